import { describe, expect, it } from 'vitest';
import { createMemoryRateLimiter } from '../../src/limits/index.js';
import { fakeClock, granted, limiterBehaviour } from './behaviour.js';

describe('memory rate limiter', () => {
  limiterBehaviour(async (now) => createMemoryRateLimiter({ now }));

  it('forgets clients whose buckets are full again', async () => {
    const clock = fakeClock();
    const limiter = createMemoryRateLimiter({ now: clock.now });
    for (let i = 0; i < 100; i++)
      granted(await limiter.reserve(`c${i}`, 10, { requestsPerMinute: 60, tokensPerMinute: 600 }));
    expect(limiter.size).toBe(100);
    clock.advance(61_000);
    // The sweep runs every 1024 calls; unlimited clients are never stored at all.
    for (let i = 0; i < 1024; i++)
      await limiter.reserve('unlimited', 1, { requestsPerMinute: 0, tokensPerMinute: 0 });
    expect(limiter.size).toBe(0);
    await limiter.close();
  });

  it('drops a client as soon as a release leaves its buckets full', async () => {
    const limiter = createMemoryRateLimiter();
    const reservation = granted(
      await limiter.reserve('a', 10, { requestsPerMinute: 60, tokensPerMinute: 600 }),
    );
    expect(limiter.size).toBe(1);
    await reservation.release();
    expect(limiter.size).toBe(0);
    await limiter.close();
  });
});
