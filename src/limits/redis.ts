import { Redis } from 'ioredis';
import { type Caps, checkTokenCount, normalizePolicy } from './bucket.js';
import { LimiterUnavailableError } from './errors.js';
import { ADJUST_SCRIPT, RESERVE_SCRIPT, SPEND_ADD_SCRIPT, SPEND_ADJUST_SCRIPT } from './redis-scripts.js';
import { parseStoreUrl } from './redis-url.js';
import { createReservation } from './reservation.js';
import type { SpendStore } from './spend.js';
import type { LimitPolicy, RateLimiter, Reservation, ReserveResult } from './types.js';

/**
 * Limits shared by every service instance pointing at one Redis. Each reserve, settle and release is
 * one Lua script (see `redis-scripts.ts`), hence atomic across processes.
 *
 * Outage policy: the limiter never waits for Redis to come back. No offline queue, one-second connect
 * and command timeouts, and an immediate `LimiterUnavailableError` while disconnected, so the caller
 * can refuse the paid call quickly (fail closed) instead of piling up requests. ioredis keeps
 * reconnecting in the background and the limiter recovers by itself.
 */

export interface RedisRateLimiterOptions {
  url: string;
  /** Namespace for the bucket keys; default `completions:limits:`. */
  keyPrefix?: string;
  /** Milliseconds. Omit in production: the Redis server clock is then the one clock all instances share. */
  now?: () => number;
}

const TIMEOUT_MS = 1000;

type ScriptReply = unknown;
interface LimiterCommands {
  limitsReserve(key: string, ...args: (string | number)[]): Promise<ScriptReply>;
  limitsAdjust(key: string, ...args: (string | number)[]): Promise<ScriptReply>;
  spendAdd(key: string, ...args: (string | number)[]): Promise<ScriptReply>;
  spendAdjust(key: string, ...args: (string | number)[]): Promise<ScriptReply>;
}

const noopReservation: Reservation = createReservation(0, {
  refundTokens: () => Promise.resolve(),
  release: () => Promise.resolve(),
});

/**
 * A client that fails fast while Redis is away (no offline queue, one attempt, 1 s timeouts, quick
 * reconnects): a request waiting on a store that is down would hold the caller. Its last error is
 * kept for the messages, since ioredis would otherwise print every reconnect failure.
 */
export function fastFailingRedis(url: string): {
  client: Redis;
  lastError: () => (Error & { code?: unknown }) | undefined;
} {
  let lastError: (Error & { code?: unknown }) | undefined;
  const client = new Redis(url, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: TIMEOUT_MS,
    commandTimeout: TIMEOUT_MS,
    retryStrategy: (attempt) => Math.min(attempt * 100, TIMEOUT_MS),
  });
  client.on('error', (error: Error) => {
    lastError = error;
  });
  return { client, lastError: () => lastError };
}

export async function createRedisRateLimiter(options: RedisRateLimiterOptions): Promise<RateLimiter> {
  const store = parseStoreUrl(options.url);
  const prefix = options.keyPrefix ?? 'completions:limits:';
  const { now } = options;
  // An empty argument tells the scripts to read the server clock.
  const clock = now === undefined ? () => '' : () => String(now());
  let closed = false;
  const { client, lastError: last } = fastFailingRedis(options.url);
  client.defineCommand('limitsReserve', { numberOfKeys: 1, lua: RESERVE_SCRIPT });
  client.defineCommand('limitsAdjust', { numberOfKeys: 1, lua: ADJUST_SCRIPT });
  client.defineCommand('spendAdd', { numberOfKeys: 1, lua: SPEND_ADD_SCRIPT });
  client.defineCommand('spendAdjust', { numberOfKeys: 1, lua: SPEND_ADJUST_SCRIPT });
  const commands = client as unknown as LimiterCommands;

  const unavailable = (reason: string, code?: unknown) =>
    new LimiterUnavailableError(
      `Rate limit store ${store.target} is unavailable: ${store.scrub(reason)}`,
      typeof code === 'string' ? code : undefined,
    );

  const call = async (run: () => Promise<ScriptReply>): Promise<ScriptReply> => {
    if (closed) throw new LimiterUnavailableError('Rate limiter is closed');
    if (client.status !== 'ready') {
      const lastError = last();
      throw unavailable(`not connected (${lastError?.message ?? client.status})`, lastError?.code);
    }
    try {
      return await run();
    } catch (error) {
      const failure = error as { message?: unknown; code?: unknown };
      throw unavailable(String(failure.message ?? error), failure.code);
    }
  };

  const adjust = async (key: string, caps: Caps, requestDelta: number, tokenDelta: number) => {
    await call(() =>
      commands.limitsAdjust(key, caps.requests, caps.tokens, requestDelta, tokenDelta, clock()),
    );
  };

  await firstConnection(client, TIMEOUT_MS + 500);

  const spend: SpendStore = {
    async add(key, amount, limit, expiresAt) {
      const reply = await call(() =>
        commands.spendAdd(`${prefix}spend:${key}`, amount, limit ?? -1, expiresAt),
      );
      if (!Array.isArray(reply) || typeof reply[1] !== 'number')
        throw unavailable('unexpected reply to the spend script');
      return { ok: reply[0] === 1, spent: reply[1] };
    },
    async adjust(key, delta, expiresAt) {
      const reply = await call(() => commands.spendAdjust(`${prefix}spend:${key}`, delta, expiresAt));
      if (typeof reply !== 'number') throw unavailable('unexpected reply to the spend script');
      return reply;
    },
  };

  return {
    spend,
    async ping() {
      await call(async () => (await client.ping()) as unknown as ScriptReply);
    },
    async reserve(clientKey: string, estimatedTokens: number, policy: LimitPolicy): Promise<ReserveResult> {
      const caps = normalizePolicy(policy);
      const estimate = checkTokenCount(estimatedTokens, 'estimatedTokens');
      // Nothing to meter, so no reason to refuse when the store is down.
      if (caps.requests === 0 && caps.tokens === 0) return { ok: true, reservation: noopReservation };
      const key = prefix + clientKey;
      const reply = await call(() =>
        commands.limitsReserve(key, caps.requests, caps.tokens, estimate, clock()),
      );
      if (!Array.isArray(reply)) throw unavailable('unexpected reply to the reserve script');
      const [ok, limit, retryAfterSeconds, remaining] = reply as unknown[];
      if (ok === 1) {
        return {
          ok: true,
          reservation: createReservation(estimate, {
            refundTokens: (tokens) => adjust(key, caps, 0, tokens),
            release: () => adjust(key, caps, 1, estimate),
          }),
        };
      }
      if ((limit !== 'requests' && limit !== 'tokens') || typeof retryAfterSeconds !== 'number') {
        throw unavailable('unexpected reply to the reserve script');
      }
      return {
        ok: false,
        limit,
        retryAfterSeconds,
        limitValue: limit === 'requests' ? caps.requests : caps.tokens,
        remaining: typeof remaining === 'number' ? remaining : 0,
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      // QUIT lets in-flight settles finish; if the store is away it fails at once and we just drop the socket.
      await client.quit().catch(() => undefined);
      client.disconnect();
    },
  };
}

/**
 * Gives the first connection attempt a bounded chance, so requests right after start-up are not
 * refused for nothing. An unreachable store is not fatal here: calls fail fast until it comes back.
 */
export function firstConnection(client: Redis, limitMs: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      client.off('ready', done).off('error', done).off('end', done);
      resolve();
    };
    const timer = setTimeout(done, limitMs);
    timer.unref();
    client.once('ready', done).once('error', done).once('end', done);
  });
}
