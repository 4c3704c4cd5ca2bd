import type { SpendStore } from './spend.js';

/**
 * The contract between the resolvers and a limiter backend. A reservation is taken before the paid
 * upstream call (from an estimate) and settled with the real usage afterwards, so a burst of
 * concurrent requests cannot all pass a check that only one of them fits.
 */

/** Per client. `0` or `Infinity` means "no limit" for that dimension. */
export interface LimitPolicy {
  requestsPerMinute: number;
  tokensPerMinute: number;
}

export type LimitDimension = 'requests' | 'tokens';

export type ReserveResult =
  | { ok: true; reservation: Reservation }
  | {
      ok: false;
      limit: LimitDimension;
      /** Whole seconds ≥ 1 after which this same request would pass if nothing else consumed meanwhile. */
      retryAfterSeconds: number;
      limitValue: number;
      /** Whole units left in the refusing bucket now (0 while in debt). */
      remaining: number;
    };

export interface Reservation {
  /** After the call: charge the real token count instead of the estimate (refund or extra). Idempotent. */
  settle(actualTokens: number): Promise<void>;
  /** The call never happened or failed before billing: give back the request and the tokens. Idempotent. */
  release(): Promise<void>;
}

export interface RateLimiter {
  /**
   * `clientKey` is a stable identity (tenant id, key hash), never a raw credential: with Redis it
   * becomes part of a key anyone with store access can list.
   */
  reserve(clientKey: string, estimatedTokens: number, policy: LimitPolicy): Promise<ReserveResult>;
  /** Resolves when the store answers (readiness); absent when there is no store to ask. */
  ping?(): Promise<void>;
  /** Spend budgets' counters in the same store; absent in test doubles. */
  readonly spend?: SpendStore;
  close(): Promise<void>;
}
