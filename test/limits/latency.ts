/**
 * Reserve latency, memory vs Redis: `npx tsx test/limits/latency.ts [count]` (Redis part needs
 * TEST_REDIS_URL). Sequential calls, so the figures are per-call round trips, not throughput.
 */
import { randomUUID } from 'node:crypto';
import { createMemoryRateLimiter, createRedisRateLimiter, type RateLimiter } from '../../src/limits/index.js';

const count = Number(process.argv[2] ?? 10_000);
const policy = { requestsPerMinute: 1_000_000, tokensPerMinute: 1_000_000_000 };

async function measure(name: string, limiter: RateLimiter): Promise<void> {
  for (let i = 0; i < 500; i++) await limiter.reserve(`warm-${i % 50}`, 100, policy);
  const reserve: number[] = [];
  const settle: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = process.hrtime.bigint();
    const result = await limiter.reserve(`client-${i % 100}`, 100, policy);
    const reserved = process.hrtime.bigint();
    if (result.ok) await result.reservation.settle(80);
    reserve.push(Number(reserved - started) / 1000);
    settle.push(Number(process.hrtime.bigint() - reserved) / 1000);
  }
  const at = (samples: number[], q: number) => {
    const sorted = [...samples].sort((a, b) => a - b);
    return (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(1);
  };
  console.log(
    `${name}: reserve p50 ${at(reserve, 0.5)} µs, p99 ${at(reserve, 0.99)} µs; ` +
      `settle p50 ${at(settle, 0.5)} µs, p99 ${at(settle, 0.99)} µs (n=${count})`,
  );
  await limiter.close();
}

await measure('memory', createMemoryRateLimiter());
const url = process.env.TEST_REDIS_URL;
if (url !== undefined) {
  await measure('redis ', await createRedisRateLimiter({ url, keyPrefix: `bench:${randomUUID()}:` }));
}
