/**
 * Where template results are kept between calls: the service's database (SQLite or PostgreSQL),
 * Redis, or this process's memory. Values are opaque text here (the cache writes JSON with its own
 * expiry inside); a store answers what it holds and forgets it after `ttlSeconds`.
 */
export interface PromptCacheStore {
  readonly kind: 'memory' | 'sqlite' | 'postgres' | 'redis';
  /** The clock expiry is measured by (epoch milliseconds), when not the system's: tests move it. */
  now?: () => number;
  /** The values for these keys, in order; undefined for a key it does not hold (or has expired). */
  getMany(keys: readonly string[]): Promise<(string | undefined)[]>;
  setMany(entries: readonly PromptCacheWrite[]): Promise<void>;
  close?(): Promise<void>;
}

export interface PromptCacheWrite {
  key: string;
  value: string;
  ttlSeconds: number;
}

export interface MemoryPromptCacheOptions {
  /** Entries kept at most; the oldest written goes first. */
  maxEntries?: number;
  now?: () => number;
}

/** One process's cache, bounded: for a service without a database, and for tests. */
export function createMemoryPromptCache(options: MemoryPromptCacheOptions = {}): PromptCacheStore {
  const maxEntries = options.maxEntries ?? 10_000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, { value: string; expiresAt: number }>();
  return {
    kind: 'memory',
    now,
    async getMany(keys) {
      const at = now();
      return keys.map((key) => {
        const entry = entries.get(key);
        if (entry === undefined) return undefined;
        if (entry.expiresAt <= at) {
          entries.delete(key);
          return undefined;
        }
        return entry.value;
      });
    },
    async setMany(writes) {
      const at = now();
      for (const { key, value, ttlSeconds } of writes) {
        // Re-inserted, so Map order stays "oldest written first" for eviction.
        entries.delete(key);
        entries.set(key, { value, expiresAt: at + ttlSeconds * 1000 });
      }
      for (const key of entries.keys()) {
        if (entries.size <= maxEntries) break;
        entries.delete(key);
      }
    },
  };
}
