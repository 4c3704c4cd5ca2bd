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

/**
 * A map of entries that expire, bounded: at `max` entries the oldest written goes first. The memory
 * store keeps its values in one, and the prompt cache its recent entries in front of a database.
 */
export class ExpiringEntries<V extends { expiresAt: number }> {
  private readonly entries = new Map<string, V>();

  constructor(private readonly max: number) {}

  /** The entry, unless it has expired by `at` (then it is dropped). */
  get(key: string, at: number): V | undefined {
    const entry = this.entries.get(key);
    if (entry !== undefined && entry.expiresAt <= at) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  set(key: string, entry: V): void {
    if (this.max === 0) return;
    // Re-inserted, so Map order stays "oldest written first" for eviction.
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.entries.size > this.max) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }
}

/** One process's cache, bounded: for a service without a database, and for tests. */
export function createMemoryPromptCache(options: MemoryPromptCacheOptions = {}): PromptCacheStore {
  const now = options.now ?? Date.now;
  const entries = new ExpiringEntries<{ value: string; expiresAt: number }>(options.maxEntries ?? 10_000);
  return {
    kind: 'memory',
    now,
    async getMany(keys) {
      const at = now();
      return keys.map((key) => entries.get(key, at)?.value);
    },
    async setMany(writes) {
      const at = now();
      for (const { key, value, ttlSeconds } of writes) {
        entries.set(key, { value, expiresAt: at + ttlSeconds * 1000 });
      }
    },
  };
}
