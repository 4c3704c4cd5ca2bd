import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  createRateLimiter,
  createRedisRateLimiter,
  LimiterConfigError,
  LimiterUnavailableError,
} from '../../src/limits/index.js';
import { granted } from './behaviour.js';
import { startTcpProxy } from './tcp-proxy.js';

/** No Redis needed: these stage an unreachable or silent store, so they run everywhere. */

const password = 'hunter2-S3cr3t%2Fpw';
const policy = { requestsPerMinute: 10, tokensPerMinute: 1000 };

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function expectFastUnavailable(url: string) {
  const limiter = await createRedisRateLimiter({ url });
  const failure = await limiter.reserve('c', 1, policy).catch((error: unknown) => error);
  await limiter.close();
  expect(failure).toBeInstanceOf(LimiterUnavailableError);
  // Fast by construction rather than by a stopwatch: refused without sending anything, because the
  // store is known to be away (no offline queue to wait in).
  expect((failure as Error).message).toMatch(/is unavailable: not connected \(/);
  const text = `${(failure as Error).message} ${(failure as Error).stack} ${JSON.stringify(failure)}`;
  expect(text).not.toContain('hunter2');
  expect(text).not.toContain('S3cr3t');
  return failure as LimiterUnavailableError;
}

describe('redis rate limiter without a reachable store', () => {
  it('refuses fast with a typed error and no password when nothing listens', async () => {
    const port = await closedPort();
    const failure = await expectFastUnavailable(`redis://user:${password}@127.0.0.1:${port}/2`);
    expect(failure.message).toContain(`redis://127.0.0.1:${port}/2`);
    expect(failure.code).toBe('ECONNREFUSED');
  });

  it('refuses fast when the store accepts connections but never answers', async () => {
    const blackhole = await startTcpProxy(undefined);
    try {
      await expectFastUnavailable(`redis://:${password}@127.0.0.1:${blackhole.port}`);
    } finally {
      await blackhole.close();
    }
  });

  it('still serves unlimited policies, which need no store', async () => {
    const limiter = await createRedisRateLimiter({ url: `redis://127.0.0.1:${await closedPort()}` });
    const reservation = granted(
      await limiter.reserve('c', 1e6, { requestsPerMinute: 0, tokensPerMinute: 0 }),
    );
    await reservation.settle(5);
    await limiter.close();
  });

  it('rejects a malformed URL without echoing it', async () => {
    await expect(createRedisRateLimiter({ url: `hunter2-${password}` })).rejects.toThrow(LimiterConfigError);
    const failure = await createRedisRateLimiter({ url: `http://:${password}@host` }).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(LimiterConfigError);
    expect((failure as Error).message).not.toContain('hunter2');
  });

  it('picks the memory backend when no URL is configured', async () => {
    const limiter = await createRateLimiter({ redisUrl: '  ' });
    granted(await limiter.reserve('c', 1, policy));
    await limiter.close();
  });
});
