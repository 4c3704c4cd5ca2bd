import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createRedisRateLimiter,
  LimiterUnavailableError,
  type LimitPolicy,
  type RateLimiter,
} from '../../src/limits/index.js';
import { granted, limiterBehaviour, refused } from './behaviour.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

/**
 * Needs a real Redis: `eval "$(.ci/services/redis.sh start)"` sets TEST_REDIS_URL. Every limiter
 * gets its own key prefix, so these tests may run next to each other and next to anything else.
 */

const url = process.env.TEST_REDIS_URL;
const prefix = () => `test:limits:${randomUUID()}:`;

describe.skipIf(url === undefined)('redis rate limiter, fake clock passed in', () => {
  limiterBehaviour((now) => createRedisRateLimiter({ url: url as string, keyPrefix: prefix(), now }));
});

describe.skipIf(url === undefined)('redis rate limiter, server clock', () => {
  const opened: RateLimiter[] = [];
  let admin: Redis;
  const open = async (options: { keyPrefix?: string; url?: string } = {}) => {
    const limiter = await createRedisRateLimiter({ url: url as string, keyPrefix: prefix(), ...options });
    opened.push(limiter);
    return limiter;
  };
  const perSecond: LimitPolicy = { requestsPerMinute: 60, tokensPerMinute: 0 };

  beforeAll(() => {
    admin = new Redis(url as string);
  });
  afterAll(async () => {
    await admin.quit();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((limiter) => limiter.close()));
  });

  it('keeps its retryAfterSeconds promise in real time', async () => {
    const limiter = await open();
    const many = await Promise.all(Array.from({ length: 60 }, () => limiter.reserve('c', 0, perSecond)));
    expect(many.every((result) => result.ok)).toBe(true);
    const denied = refused(await limiter.reserve('c', 0, perSecond));
    expect(denied).toMatchObject({ limit: 'requests', retryAfterSeconds: 1, limitValue: 60 });
    await sleep(denied.retryAfterSeconds * 1000);
    granted(await limiter.reserve('c', 0, perSecond));

    const tokens: LimitPolicy = { requestsPerMinute: 0, tokensPerMinute: 600 };
    granted(await limiter.reserve('t', 600, tokens));
    const deniedTokens = refused(await limiter.reserve('t', 10, tokens));
    expect(deniedTokens).toMatchObject({ limit: 'tokens', retryAfterSeconds: 1 });
    await sleep(1000);
    granted(await limiter.reserve('t', 10, tokens));
  });

  it('shares one budget between two instances of the service', async () => {
    const keyPrefix = prefix();
    const [a, b] = await Promise.all([open({ keyPrefix }), open({ keyPrefix })]);
    const budget: LimitPolicy = { requestsPerMinute: 5, tokensPerMinute: 0 };
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? (a as RateLimiter) : (b as RateLimiter)).reserve('shared', 1, budget),
      ),
    );
    expect(results.filter((result) => result.ok)).toHaveLength(5);

    const tokenBudget: LimitPolicy = { requestsPerMinute: 0, tokensPerMinute: 500 };
    const tokenResults = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? (a as RateLimiter) : (b as RateLimiter)).reserve('tok', 100, tokenBudget),
      ),
    );
    expect(tokenResults.filter((result) => result.ok)).toHaveLength(5);
    // A release on one instance frees budget the other one sees.
    const first = tokenResults.find((result) => result.ok);
    if (first?.ok) await first.reservation.release();
    granted(await (b as RateLimiter).reserve('tok', 100, tokenBudget));
  });

  it('lets the key of an idle client expire once its buckets are full again', async () => {
    const keyPrefix = prefix();
    const limiter = await open({ keyPrefix });
    // 600 per minute: one request is back after 100 ms; the key lives that plus one second of margin.
    granted(await limiter.reserve('idle', 0, { requestsPerMinute: 600, tokensPerMinute: 0 }));
    const ttl = await admin.pttl(`${keyPrefix}idle`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1100);
    // The lifetime is what the bound above proves; here only that the key does go.
    await expect.poll(() => admin.exists(`${keyPrefix}idle`), { timeout: ttl + 5_000 }).toBe(0);
    // A full bucket is not stored at all.
    const reservation = granted(
      await limiter.reserve('gone', 0, { requestsPerMinute: 600, tokensPerMinute: 0 }),
    );
    await reservation.release();
    expect(await admin.exists(`${keyPrefix}gone`)).toBe(0);
  });

  describe('when the store goes away', () => {
    let proxy: TcpProxy;
    beforeAll(async () => {
      const target = new URL(url as string);
      proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    });
    afterAll(async () => {
      await proxy.close();
    });

    const viaProxy = () => {
      const target = new URL(url as string);
      target.port = String(proxy.port);
      return target.toString();
    };

    it('fails fast while disconnected and recovers by itself', async () => {
      proxy.setMode('forward');
      const limiter = await open({ url: viaProxy() });
      granted(await limiter.reserve('c', 1, perSecond));

      proxy.setMode('refuse');
      // Until the client sees the dropped connection a call may still fail another way; once it
      // has, every call is refused without being sent (no offline queue), which is what "fast" means.
      await expect
        .poll(async () => {
          const failure = await limiter.reserve('c', 1, perSecond).catch((error: unknown) => error);
          return failure instanceof LimiterUnavailableError && /not connected/.test(failure.message);
        })
        .toBe(true);

      proxy.setMode('forward');
      await expect
        .poll(async () => (await limiter.reserve('c', 1, perSecond)).ok, { timeout: 3000 })
        .toBe(true);
    });

    it('fails within the command timeout when the store stops answering', async () => {
      proxy.setMode('forward');
      const limiter = await open({ url: viaProxy() });
      const reservation = granted(await limiter.reserve('c', 1, perSecond));

      proxy.setMode('blackhole');
      const failure = await limiter.reserve('c', 1, perSecond).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(LimiterUnavailableError);
      // Ended by the client's command timeout: nothing else could end a call the store never answers.
      expect((failure as Error).message).toMatch(/Command timed out/);
      // Settling during the outage fails the same way, and may be retried once the store is back.
      await expect(reservation.settle(5)).rejects.toBeInstanceOf(LimiterUnavailableError);
      proxy.setMode('refuse');
      proxy.setMode('forward');
      await expect
        .poll(async () => (await limiter.reserve('d', 1, perSecond)).ok, { timeout: 3000 })
        .toBe(true);
      await reservation.settle(5);
    });
  });
});
