import { fastFailingRedis, firstConnection } from '../limits/redis.js';
import { parseStoreUrl } from '../limits/redis-url.js';
import type { PromptCacheStore } from '../templates/cache-store.js';

/**
 * The prompt templates' result cache in Redis (REDIS_URL), shared by every instance: MGET to read a
 * batch, SET with PX in one pipeline to write it; Redis expires the keys itself. Its failures are
 * plain errors with the URL's password scrubbed: the cache treats them as misses.
 */

const TIMEOUT_MS = 1_000;

export async function createRedisPromptCache(options: {
  url: string;
  keyPrefix?: string;
}): Promise<PromptCacheStore> {
  const store = parseStoreUrl(options.url);
  const prefix = options.keyPrefix ?? 'completions:';
  const { client, lastError } = fastFailingRedis(options.url);
  await firstConnection(client, TIMEOUT_MS + 500);
  const failure = (error: unknown) =>
    new Error(
      `Prompt cache store ${store.target} is unavailable: ${store.scrub(error instanceof Error ? error.message : String(error))}`,
    );
  const ready = () => {
    if (client.status !== 'ready') throw failure(`not connected (${lastError()?.message ?? client.status})`);
  };
  return {
    kind: 'redis',
    async getMany(keys) {
      if (keys.length === 0) return [];
      ready();
      try {
        const values = await client.mget(keys.map((key) => prefix + key));
        return values.map((value) => value ?? undefined);
      } catch (error) {
        throw failure(error);
      }
    },
    async setMany(entries) {
      if (entries.length === 0) return;
      ready();
      const pipeline = client.pipeline();
      for (const { key, value, ttlSeconds } of entries)
        pipeline.set(prefix + key, value, 'PX', ttlSeconds * 1000);
      let replies: [Error | null, unknown][] | null;
      try {
        replies = await pipeline.exec();
      } catch (error) {
        throw failure(error);
      }
      const failed = replies?.find(([error]) => error !== null)?.[0];
      if (failed) throw failure(failed);
    },
    async close() {
      await client.quit().catch(() => undefined);
      client.disconnect();
    },
  };
}
