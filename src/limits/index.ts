import { createMemoryRateLimiter } from './memory.js';
import { createRedisRateLimiter } from './redis.js';
import type { RateLimiter } from './types.js';

export { NEVER_RETRY_AFTER_SECONDS } from './bucket.js';
export { LimiterConfigError, LimiterUnavailableError } from './errors.js';
export { createMemoryRateLimiter, type MemoryRateLimiterOptions } from './memory.js';
export { createRedisRateLimiter, type RedisRateLimiterOptions } from './redis.js';
export { createMemorySpendStore, type SpendStore } from './spend.js';
export type { LimitDimension, LimitPolicy, RateLimiter, Reservation, ReserveResult } from './types.js';

/** Redis when a URL is configured (limits shared by every instance), otherwise this process alone. */
export function createRateLimiter(options: {
  redisUrl?: string | undefined;
  keyPrefix?: string;
}): Promise<RateLimiter> {
  if (options.redisUrl === undefined || options.redisUrl.trim() === '') {
    return Promise.resolve(createMemoryRateLimiter());
  }
  return createRedisRateLimiter({
    url: options.redisUrl,
    ...(options.keyPrefix === undefined ? {} : { keyPrefix: options.keyPrefix }),
  });
}
