import {
  adjust,
  type BucketState,
  type Caps,
  checkTokenCount,
  fullAt,
  normalizePolicy,
  tryReserve,
} from './bucket.js';
import { LimiterUnavailableError } from './errors.js';
import { createReservation } from './reservation.js';
import { createMemorySpendStore } from './spend.js';
import type { LimitPolicy, RateLimiter, ReserveResult } from './types.js';

/**
 * One process's limits. Check-and-deduct runs synchronously between two awaits, so concurrent
 * callers in this process cannot interleave inside it; several instances each get their own budget
 * (use the Redis backend to share one).
 */

interface Entry {
  state: BucketState;
  /** When the buckets are full again and the entry carries no information. */
  idleAt: number;
}

// Forgetting full buckets every so many calls keeps memory bounded by active clients without a timer.
const SWEEP_EVERY = 1024;

export interface MemoryRateLimiterOptions {
  /** Milliseconds; only differences matter, so a monotonic clock is the default. */
  now?: () => number;
}

export function createMemoryRateLimiter(options: MemoryRateLimiterOptions = {}): RateLimiter & {
  /** Clients currently tracked (for tests and metrics). */
  readonly size: number;
} {
  const now = options.now ?? (() => performance.now());
  const entries = new Map<string, Entry>();
  let calls = 0;
  let closed = false;

  const store = (clientKey: string, state: BucketState, caps: Caps) => {
    const idleAt = fullAt(state, caps);
    // A full bucket is indistinguishable from an unknown client (unlimited policies included).
    if (idleAt <= state.updatedAt) entries.delete(clientKey);
    else entries.set(clientKey, { state, idleAt });
  };

  const sweep = (at: number) => {
    for (const [key, entry] of entries) if (entry.idleAt <= at) entries.delete(key);
  };

  return {
    spend: createMemorySpendStore(),
    get size() {
      return entries.size;
    },
    async reserve(clientKey: string, estimatedTokens: number, policy: LimitPolicy): Promise<ReserveResult> {
      if (closed) throw new LimiterUnavailableError('Rate limiter is closed');
      const caps = normalizePolicy(policy);
      const estimate = checkTokenCount(estimatedTokens, 'estimatedTokens');
      const at = now();
      if (++calls % SWEEP_EVERY === 0) sweep(at);
      const decision = tryReserve(entries.get(clientKey)?.state, caps, estimate, at);
      if (!decision.ok) return decision;
      store(clientKey, decision.state, caps);
      const change = (requestDelta: number, tokenDelta: number) => {
        // After close there is nothing left to give back to; a late settle must not throw.
        if (closed) return Promise.resolve();
        store(clientKey, adjust(entries.get(clientKey)?.state, caps, requestDelta, tokenDelta, now()), caps);
        return Promise.resolve();
      };
      return {
        ok: true,
        reservation: createReservation(estimate, {
          refundTokens: (tokens) => change(0, tokens),
          release: () => change(1, estimate),
        }),
      };
    },
    async close() {
      closed = true;
      entries.clear();
    },
  };
}
