import type { CompletionUsage, FinishReason } from '../completions/model.js';
import { PendingWrites } from '../completions/pending-writes.js';
import { ModelNotAllowedError } from '../limits/spend-budget.js';
import { extended } from '../runtime/objects.js';
import { ExpiringEntries, type PromptCacheStore, type PromptCacheWrite } from './cache-store.js';

/**
 * Reuse of template results, per prompt: a batch of prompts looks up all its keys in one read,
 * and only the misses go upstream. Concurrent identical misses make one upstream call (single
 * flight, in this process): the first caller calls, the others wait for its result. When that
 * call fails (the first caller's budget, its cancellation), each waiting caller makes its own call
 * rather than inherit another client's error. A store that fails is a miss, never a refusal.
 */

/** What one prompt of a call answered (its choices, its share of the usage). */
export interface PromptResult {
  texts: string[];
  finishReason: FinishReason | null;
  model: string;
  usage: CompletionUsage | null;
  completionId: string;
}

export type PromptOutcome =
  | { ok: true; result: PromptResult; cached: boolean; maxAgeSeconds: number }
  | { ok: false; error: unknown };

interface Entry extends PromptResult {
  /** Epoch milliseconds. */
  expiresAt: number;
}

export interface PromptCacheDeps {
  store: PromptCacheStore;
  /** A store read or write failed: served as a miss, logged. */
  onStoreError?: (operation: 'read' | 'write', error: unknown) => void;
  /** Whether the client may use the model (its key's `models`): a reused result is no way around it. */
  modelAllowed?: (client: string, model: string) => boolean;
  /** Entries kept in this process in front of a database or Redis store (default 10,000). */
  recentEntries?: number;
  /** Results per template, reused and not (metrics). */
  onCounted?: (template: string, hits: number, misses: number) => void;
}

/**
 * Calls the upstream for these prompts (indices into the batch) and answers them in that order:
 * an Error for a prompt its call failed (or left without a choice), never kept.
 */
export type RunPrompts = (indices: number[]) => Promise<(PromptResult | Error)[]>;

const isStringArray = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((item) => typeof item === 'string');

/** A stored value, checked: a corrupted or foreign one is a miss, not a crash or a wrong answer. */
function parseEntry(text: string | undefined): Entry | undefined {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as Partial<Entry>;
    if (
      isStringArray(value.texts) &&
      typeof value.model === 'string' &&
      typeof value.completionId === 'string' &&
      typeof value.expiresAt === 'number'
    ) {
      return {
        texts: value.texts,
        finishReason: value.finishReason ?? null,
        model: value.model,
        usage: value.usage ?? null,
        completionId: value.completionId,
        expiresAt: value.expiresAt,
      };
    }
  } catch {
    // a miss
  }
  return undefined;
}

export class PromptCache {
  private readonly inflight = new Map<string, Promise<Entry>>();
  /** The entries this process read or wrote last, in front of a database or Redis store. */
  private readonly recent: ExpiringEntries<Entry>;
  private readonly now: () => number;
  /** Store writes after the response went out; awaited at shutdown. */
  readonly pending = new PendingWrites();

  constructor(private readonly deps: PromptCacheDeps) {
    // The store's clock: expiry means the same to both.
    this.now = deps.store.now ?? Date.now;
    // A store in this process's memory needs no copy in front of it.
    this.recent = new ExpiringEntries<Entry>(
      deps.store.kind === 'memory' ? 0 : (deps.recentEntries ?? 10_000),
    );
  }

  /** Throws `ModelNotAllowedError` for a model the client's key may not use, hit or miss. */
  assertAllowed(client: string, model: string): void {
    if (this.deps.modelAllowed?.(client, model) === false) throw new ModelNotAllowedError(model);
  }

  counted(template: string, hits: number, misses: number): void {
    this.deps.onCounted?.(template, hits, misses);
  }

  /** Each prompt's result: reused when held (or being made), else from `run`, then kept for `ttlSeconds`. */
  async resolve(keys: readonly string[], ttlSeconds: number, run: RunPrompts): Promise<PromptOutcome[]> {
    const outcomes: PromptOutcome[] = new Array(keys.length);
    const first = new Map<string, number>();
    const duplicates: [number, number][] = [];
    const waits: [number, Promise<Entry>][] = [];
    const lookups: number[] = [];
    const mine = new Map<number, { resolve: (entry: Entry) => void; reject: (error: unknown) => void }>();
    // Claimed before any await: a concurrent request for the same key waits for this one.
    for (const [index, key] of keys.entries()) {
      const earlier = first.get(key);
      if (earlier !== undefined) {
        duplicates.push([index, earlier]);
        continue;
      }
      first.set(key, index);
      const flying = this.inflight.get(key);
      if (flying !== undefined) {
        waits.push([index, flying]);
        continue;
      }
      const promise = new Promise<Entry>((resolve, reject) => mine.set(index, { resolve, reject }));
      // Nobody may be waiting: a failure is not an unhandled rejection.
      promise.catch(() => undefined);
      this.inflight.set(key, promise);
      lookups.push(index);
    }
    const release = (index: number) => this.inflight.delete(keys[index] as string);

    const misses = await this.lookUp(keys, lookups, outcomes, mine, release);
    const retries: number[] = [];
    await Promise.all([
      this.call(keys, misses, ttlSeconds, run, outcomes, mine, release),
      ...waits.map(async ([index, flying]) => {
        try {
          outcomes[index] = this.reused(await flying);
        } catch {
          retries.push(index);
        }
      }),
    ]);
    // Another caller's call failed: this caller pays for its own, and is told its own errors.
    if (retries.length > 0) await this.call(keys, retries, ttlSeconds, run, outcomes, new Map(), () => {});
    for (const [index, earlier] of duplicates) {
      const outcome = outcomes[earlier] as PromptOutcome;
      outcomes[index] = outcome.ok ? extended(outcome, { cached: true }) : outcome;
    }
    return outcomes;
  }

  /** Drains the writes still running (shutdown). */
  drain(): Promise<void> {
    return this.pending.drain();
  }

  private reused(entry: Entry): PromptOutcome {
    const { expiresAt, ...result } = entry;
    const maxAgeSeconds = Math.max(0, Math.floor((expiresAt - this.now()) / 1000));
    return { ok: true, result, cached: true, maxAgeSeconds };
  }

  private async lookUp(
    keys: readonly string[],
    lookups: number[],
    outcomes: PromptOutcome[],
    mine: Map<number, { resolve: (entry: Entry) => void }>,
    release: (index: number) => void,
  ): Promise<number[]> {
    if (lookups.length === 0) return [];
    const hit = (index: number, entry: Entry) => {
      outcomes[index] = this.reused(entry);
      mine.get(index)?.resolve(entry);
      release(index);
    };
    // This process's copies first: an entry never changes before it expires, so a copy is as good.
    let at = this.now();
    const remote: number[] = [];
    for (const index of lookups) {
      const entry = this.recent.get(keys[index] as string, at);
      if (entry === undefined) remote.push(index);
      else hit(index, entry);
    }
    if (remote.length === 0) return [];
    let values: (string | undefined)[];
    try {
      values = await this.deps.store.getMany(remote.map((index) => keys[index] as string));
    } catch (error) {
      this.deps.onStoreError?.('read', error);
      values = [];
    }
    at = this.now();
    const misses: number[] = [];
    for (const [i, index] of remote.entries()) {
      const entry = parseEntry(values[i]);
      if (entry === undefined || entry.expiresAt <= at) {
        misses.push(index);
        continue;
      }
      this.recent.set(keys[index] as string, entry);
      hit(index, entry);
    }
    return misses;
  }

  private async call(
    keys: readonly string[],
    indices: number[],
    ttlSeconds: number,
    run: RunPrompts,
    outcomes: PromptOutcome[],
    mine: Map<number, { resolve: (entry: Entry) => void; reject: (error: unknown) => void }>,
    release: (index: number) => void,
  ): Promise<void> {
    if (indices.length === 0) return;
    let results: (PromptResult | Error)[];
    try {
      results = await run(indices);
    } catch (error) {
      for (const index of indices) {
        outcomes[index] = { ok: false, error };
        mine.get(index)?.reject(error);
        release(index);
      }
      return;
    }
    const expiresAt = this.now() + ttlSeconds * 1000;
    const writes: PromptCacheWrite[] = [];
    const kept: number[] = [];
    indices.forEach((index, i) => {
      const result = results[i] ?? new Error('the call answered fewer prompts than it was given');
      if (result instanceof Error) {
        outcomes[index] = { ok: false, error: result };
        mine.get(index)?.reject(result);
        release(index);
        return;
      }
      const entry: Entry = extended(result, { expiresAt });
      this.recent.set(keys[index] as string, entry);
      outcomes[index] = { ok: true, result, cached: false, maxAgeSeconds: ttlSeconds };
      mine.get(index)?.resolve(entry);
      writes.push({ key: keys[index] as string, value: JSON.stringify(entry), ttlSeconds });
      kept.push(index);
    });
    if (writes.length === 0) return;
    // Off the response's path; the keys stay claimed (served from memory) until the write landed,
    // so a request right after this one is a hit even before the store has it.
    this.pending.track(
      this.deps.store
        .setMany(writes)
        .catch((error: unknown) => this.deps.onStoreError?.('write', error))
        .finally(() => {
          for (const index of kept) release(index);
        }),
    );
  }
}
