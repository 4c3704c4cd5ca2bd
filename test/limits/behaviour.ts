import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { LimitPolicy, RateLimiter, ReserveResult } from '../../src/limits/index.js';

/**
 * The behavioural contract every backend must meet, driven by a fake clock the backend is built
 * with (`now`). Called inside a backend's `describe`; each test uses its own client keys so runs
 * against a shared Redis cannot see each other.
 */

export interface FakeClock {
  now: () => number;
  advance(ms: number): void;
}

export function fakeClock(start = 1_700_000_000_000): FakeClock {
  let at = start;
  return {
    now: () => at,
    advance: (ms) => {
      at += ms;
    },
  };
}

export type LimiterFactory = (now: () => number) => Promise<RateLimiter>;

const policy = (requestsPerMinute: number, tokensPerMinute: number): LimitPolicy => ({
  requestsPerMinute,
  tokensPerMinute,
});

export function refused(result: ReserveResult) {
  if (result.ok) throw new Error('expected the reserve to be refused');
  return result;
}

export function granted(result: ReserveResult) {
  if (!result.ok) throw new Error(`expected the reserve to pass, got ${JSON.stringify(result)}`);
  return result.reservation;
}

export function limiterBehaviour(create: LimiterFactory): void {
  let clock: FakeClock;
  let limiter: RateLimiter;
  let client: string;

  beforeEach(async () => {
    clock = fakeClock();
    limiter = await create(clock.now);
    client = `client-${randomUUID()}`;
  });
  afterEach(async () => {
    await limiter.close();
  });

  const okCount = (results: ReserveResult[]) => results.filter((result) => result.ok).length;

  it('admits exactly 5 of 20 parallel reserves against a request budget of 5', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, () => limiter.reserve(client, 1, policy(5, 0))),
    );
    expect(okCount(results)).toBe(5);
    for (const result of results.filter((r) => !r.ok)) {
      expect(refused(result)).toMatchObject({ limit: 'requests', limitValue: 5, remaining: 0 });
    }
  });

  it('admits exactly 5 of 20 parallel reserves of 100 tokens against a budget of 500', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, () => limiter.reserve(client, 100, policy(0, 500))),
    );
    expect(okCount(results)).toBe(5);
    expect(refused(results.find((r) => !r.ok) as ReserveResult)).toMatchObject({
      limit: 'tokens',
      limitValue: 500,
      remaining: 0,
    });
  });

  it('gives a request retryAfterSeconds after which the reserve passes, and not a second earlier', async () => {
    for (let i = 0; i < 5; i++) granted(await limiter.reserve(client, 1, policy(5, 0)));
    const denied = refused(await limiter.reserve(client, 1, policy(5, 0)));
    // 5 per minute refills one request every 12 s.
    expect(denied.retryAfterSeconds).toBe(12);
    clock.advance(denied.retryAfterSeconds * 1000 - 1000);
    expect((await limiter.reserve(client, 1, policy(5, 0))).ok).toBe(false);
    clock.advance(1000);
    granted(await limiter.reserve(client, 1, policy(5, 0)));
  });

  it('gives a token retryAfterSeconds that is truthful for the size of the request', async () => {
    for (let i = 0; i < 5; i++) granted(await limiter.reserve(client, 100, policy(0, 500)));
    const denied = refused(await limiter.reserve(client, 250, policy(0, 500)));
    // 250 tokens at 500/60 per second.
    expect(denied).toMatchObject({ limit: 'tokens', retryAfterSeconds: 30, remaining: 0 });
    clock.advance(29_000);
    const stillDenied = refused(await limiter.reserve(client, 250, policy(0, 500)));
    expect(stillDenied.retryAfterSeconds).toBe(1);
    expect(stillDenied.remaining).toBe(241);
    clock.advance(1000);
    granted(await limiter.reserve(client, 250, policy(0, 500)));
  });

  it('rounds fractional waits up to whole seconds that still hold', async () => {
    // 7 per minute: one request every 8.57 s.
    for (let i = 0; i < 7; i++) granted(await limiter.reserve(client, 0, policy(7, 0)));
    const denied = refused(await limiter.reserve(client, 0, policy(7, 0)));
    expect(denied.retryAfterSeconds).toBe(9);
    expect(Number.isInteger(denied.retryAfterSeconds)).toBe(true);
    clock.advance(9000);
    granted(await limiter.reserve(client, 0, policy(7, 0)));
  });

  it('reports the longer wait when both dimensions refuse', async () => {
    for (let i = 0; i < 60; i++) granted(await limiter.reserve(client, 10, policy(60, 600)));
    // Both are empty; a request is back in 1 s but 300 tokens only in 30 s: "1 s" would be a lie.
    const denied = refused(await limiter.reserve(client, 300, policy(60, 600)));
    expect(denied).toMatchObject({ limit: 'tokens', retryAfterSeconds: 30 });
  });

  it('never admits an estimate larger than the whole per-minute token limit', async () => {
    const denied = refused(await limiter.reserve(client, 501, policy(100, 500)));
    expect(denied).toMatchObject({ limit: 'tokens', retryAfterSeconds: 60, limitValue: 500, remaining: 500 });
    clock.advance(3_600_000);
    expect((await limiter.reserve(client, 501, policy(100, 500))).ok).toBe(false);
    // It consumed nothing: the full budget is still there.
    granted(await limiter.reserve(client, 500, policy(100, 500)));
  });

  it('refunds the difference when the real usage is below the estimate', async () => {
    const reservation = granted(await limiter.reserve(client, 500, policy(0, 600)));
    await reservation.settle(100);
    granted(await limiter.reserve(client, 500, policy(0, 600)));
    expect(refused(await limiter.reserve(client, 1, policy(0, 600))).remaining).toBe(0);
  });

  it('charges usage above the estimate as debt that later requests wait out', async () => {
    const reservation = granted(await limiter.reserve(client, 100, policy(0, 600)));
    await reservation.settle(700);
    const denied = refused(await limiter.reserve(client, 100, policy(0, 600)));
    // From −100 to +100 at 10 tokens per second.
    expect(denied).toMatchObject({ limit: 'tokens', retryAfterSeconds: 20, remaining: 0 });
    clock.advance(19_000);
    expect((await limiter.reserve(client, 100, policy(0, 600))).ok).toBe(false);
    clock.advance(1000);
    granted(await limiter.reserve(client, 100, policy(0, 600)));
  });

  it('gives back the request and the tokens on release', async () => {
    const reservation = granted(await limiter.reserve(client, 400, policy(1, 500)));
    expect(refused(await limiter.reserve(client, 1, policy(1, 500))).limit).toBe('requests');
    await reservation.release();
    granted(await limiter.reserve(client, 500, policy(1, 500)));
  });

  it('settles and releases once, whatever is called afterwards', async () => {
    const reservation = granted(await limiter.reserve(client, 100, policy(0, 1000)));
    await Promise.all([reservation.settle(300), reservation.settle(300)]);
    await reservation.settle(300);
    await reservation.release();
    // 1000 − 300 charged once: 700 left, not 500 (double charge) or 800/1000 (later refund).
    granted(await limiter.reserve(client, 700, policy(0, 1000)));
    expect((await limiter.reserve(client, 1, policy(0, 1000))).ok).toBe(false);

    const released = granted(await limiter.reserve(`${client}-b`, 100, policy(2, 1000)));
    await released.release();
    await released.release();
    await released.settle(1000);
    granted(await limiter.reserve(`${client}-b`, 1000, policy(2, 1000)));
    granted(await limiter.reserve(`${client}-b`, 0, policy(2, 1000)));
    expect(refused(await limiter.reserve(`${client}-b`, 0, policy(2, 1000))).limit).toBe('requests');
  });

  it('keeps clients apart', async () => {
    for (let i = 0; i < 3; i++) granted(await limiter.reserve(client, 10, policy(3, 30)));
    expect((await limiter.reserve(client, 10, policy(3, 30))).ok).toBe(false);
    granted(await limiter.reserve(`${client}-other`, 30, policy(3, 30)));
  });

  it('treats 0 and Infinity as unlimited per dimension', async () => {
    for (let i = 0; i < 200; i++)
      granted(await limiter.reserve(client, 1e9, policy(0, Number.POSITIVE_INFINITY)));
    for (let i = 0; i < 50; i++)
      granted(await limiter.reserve(`${client}-t`, 1e6, policy(Number.POSITIVE_INFINITY, 0)));
    // Requests unlimited, tokens limited: only the token bucket refuses.
    for (let i = 0; i < 50; i++) granted(await limiter.reserve(`${client}-m`, 1, policy(0, 50)));
    expect(refused(await limiter.reserve(`${client}-m`, 1, policy(0, 50))).limit).toBe('tokens');
  });

  it('refills continuously up to the capacity and no further', async () => {
    for (let i = 0; i < 60; i++) granted(await limiter.reserve(client, 0, policy(60, 0)));
    clock.advance(10_000);
    const results = [];
    for (let i = 0; i < 11; i++) results.push(await limiter.reserve(client, 0, policy(60, 0)));
    expect(okCount(results)).toBe(10);
    clock.advance(3_600_000);
    for (let i = 0; i < 60; i++) granted(await limiter.reserve(client, 0, policy(60, 0)));
    expect((await limiter.reserve(client, 0, policy(60, 0))).ok).toBe(false);
  });

  it('rejects nonsense arguments instead of guessing', async () => {
    await expect(limiter.reserve(client, -1, policy(1, 1))).rejects.toThrow(RangeError);
    await expect(limiter.reserve(client, Number.NaN, policy(1, 1))).rejects.toThrow(RangeError);
    await expect(limiter.reserve(client, 1, policy(-5, 0))).rejects.toThrow(RangeError);
    await expect(limiter.reserve(client, 1, policy(0, 0.5))).rejects.toThrow(RangeError);
    const reservation = granted(await limiter.reserve(client, 1, policy(10, 100)));
    await expect(reservation.settle(Number.NaN)).rejects.toThrow(RangeError);
    await reservation.settle(1);
  });
}
