import type { LimitDimension, LimitPolicy } from './types.js';

/**
 * Token-bucket arithmetic shared by the backends (the Redis Lua script in `redis-scripts.ts` is a
 * line-by-line port of `tryReserve`/`adjust`; keep them in step).
 *
 * Why a token bucket rather than a sliding window: the state is two numbers per client and
 * dimension, so one small atomic script can check and deduct; settling with the real usage is a
 * plain add/subtract (a negative level is debt that later requests wait out); and the refill is
 * continuous, so `retryAfterSeconds` is exact arithmetic instead of the guess that a window of
 * timestamped entries (or a two-window approximation) would give. Capacity is the per-minute limit,
 * so a quiet client may burst up to one minute's allowance and then gets limit/60 per second.
 */

export const WINDOW_MS = 60_000;

/**
 * What we answer for an estimate larger than the whole per-minute token limit. It can never pass,
 * but the type has no "never": a full window is the honest upper bound for "the bucket is as full as
 * it gets". Callers can recognise the case as `estimatedTokens > limitValue`.
 */
export const NEVER_RETRY_AFTER_SECONDS = WINDOW_MS / 1000;

/** Policy with "unlimited" normalised to 0, the form the store scripts receive too. */
export interface Caps {
  requests: number;
  tokens: number;
}

/** A level is undefined for an unlimited dimension and, in stored state, for a bucket never touched (full). */
export interface BucketState {
  requests: number | undefined;
  tokens: number | undefined;
  updatedAt: number;
}

export type Decision =
  | { ok: true; state: BucketState }
  | { ok: false; limit: LimitDimension; retryAfterSeconds: number; limitValue: number; remaining: number };

function cap(value: number, name: string): number {
  if (value === Number.POSITIVE_INFINITY || value === 0) return 0;
  // Below one unit per minute a bucket could never hold a single request: almost surely a unit mix-up.
  if (!Number.isFinite(value) || value < 1) {
    throw new RangeError(`${name} must be 0, Infinity (unlimited) or at least 1, got ${value}`);
  }
  return value;
}

export function normalizePolicy(policy: LimitPolicy): Caps {
  return {
    requests: cap(policy.requestsPerMinute, 'requestsPerMinute'),
    tokens: cap(policy.tokensPerMinute, 'tokensPerMinute'),
  };
}

export function checkTokenCount(value: number, name: string): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`${name} must be a finite number ≥ 0, got ${value}`);
  }
  return value;
}

// Floating-point refill can land a hair below the target exactly at the promised retry time; a
// relative tolerance keeps `retryAfterSeconds` truthful without admitting anything measurable.
const tolerance = (capacity: number) => capacity * 1e-9;

function level(stored: number | undefined, capacity: number, elapsedMs: number): number | undefined {
  if (capacity === 0) return undefined;
  if (stored === undefined) return capacity;
  return Math.min(capacity, stored + (elapsedMs * capacity) / WINDOW_MS);
}

/** The levels at `now`. A clock that steps back never refills twice, so `updatedAt` only moves forward. */
export function refill(state: BucketState | undefined, caps: Caps, now: number): BucketState {
  if (state === undefined)
    return {
      requests: level(undefined, caps.requests, 0),
      tokens: level(undefined, caps.tokens, 0),
      updatedAt: now,
    };
  const elapsed = Math.max(0, now - state.updatedAt);
  return {
    requests: level(state.requests, caps.requests, elapsed),
    tokens: level(state.tokens, caps.tokens, elapsed),
    updatedAt: Math.max(state.updatedAt, now),
  };
}

function waitMs(current: number, need: number, capacity: number): number {
  return current + tolerance(capacity) >= need ? 0 : ((need - current) * WINDOW_MS) / capacity;
}

function toRetrySeconds(ms: number): number {
  // The small subtraction stops 3.0000000001 s of float noise from becoming a 4 s answer.
  return Math.max(1, Math.ceil(ms / 1000 - 1e-9));
}

function remainingOf(current: number, capacity: number): number {
  return Math.floor(Math.max(0, current) + tolerance(capacity));
}

/** Check-and-deduct one request and `estimate` tokens, or explain which bucket refuses and for how long. */
export function tryReserve(
  stored: BucketState | undefined,
  caps: Caps,
  estimate: number,
  now: number,
): Decision {
  const state = refill(stored, caps, now);
  const requests = state.requests ?? 0;
  const tokens = state.tokens ?? 0;
  if (caps.tokens > 0 && estimate > caps.tokens) {
    return {
      ok: false,
      limit: 'tokens',
      retryAfterSeconds: NEVER_RETRY_AFTER_SECONDS,
      limitValue: caps.tokens,
      remaining: remainingOf(tokens, caps.tokens),
    };
  }
  const requestWait = caps.requests > 0 ? waitMs(requests, 1, caps.requests) : 0;
  const tokenWait = caps.tokens > 0 ? waitMs(tokens, estimate, caps.tokens) : 0;
  if (requestWait > 0 || tokenWait > 0) {
    // Report the longer wait: after it both buckets have enough, which is what "retry after" promises.
    const limit: LimitDimension = tokenWait > requestWait ? 'tokens' : 'requests';
    const limitValue = limit === 'tokens' ? caps.tokens : caps.requests;
    return {
      ok: false,
      limit,
      retryAfterSeconds: toRetrySeconds(Math.max(requestWait, tokenWait)),
      limitValue,
      remaining: remainingOf(limit === 'tokens' ? tokens : requests, limitValue),
    };
  }
  return {
    ok: true,
    state: {
      requests: state.requests === undefined ? undefined : requests - 1,
      tokens: state.tokens === undefined ? undefined : tokens - estimate,
      updatedAt: state.updatedAt,
    },
  };
}

/** Give back (positive) or charge extra (negative); refunds never overfill, charges may go into debt. */
export function adjust(
  stored: BucketState | undefined,
  caps: Caps,
  requestDelta: number,
  tokenDelta: number,
  now: number,
): BucketState {
  const state = refill(stored, caps, now);
  const apply = (current: number | undefined, delta: number, capacity: number) =>
    current === undefined ? undefined : Math.min(capacity, current + delta);
  return {
    requests: apply(state.requests, requestDelta, caps.requests),
    tokens: apply(state.tokens, tokenDelta, caps.tokens),
    updatedAt: state.updatedAt,
  };
}

/** When every limited bucket is full again: from then on the state equals "never seen" and can go. */
export function fullAt(state: BucketState, caps: Caps): number {
  const until = (current: number | undefined, capacity: number) =>
    current === undefined || capacity === 0 ? 0 : ((capacity - current) * WINDOW_MS) / capacity;
  return state.updatedAt + Math.max(until(state.requests, caps.requests), until(state.tokens, caps.tokens));
}
