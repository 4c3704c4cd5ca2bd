import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientAuthenticator, hashToken } from '../../src/auth/client-keys.js';
import { createMemoryRateLimiter, createRedisRateLimiter, type RateLimiter } from '../../src/limits/index.js';
import { createStorage, type Storage } from '../../src/storage/index.js';
import { createCompletion } from '../helpers/operations.js';
import { reply, type StubUpstream, startStubUpstream } from '../helpers/stub-upstream.js';
import { type GraphQLResponse, startTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Per-client budgets reserved before the paid call: in memory, and in Redis (shared by two
 * instances) when TEST_REDIS_URL is set (.ci/run starts a real redis-server).
 */

const redisUrl = process.env.TEST_REDIS_URL;
const tokens = { alice: 'ck-alice-limits-1', bob: 'ck-bob-limits-2' };
const authenticator = new ClientAuthenticator(
  Object.entries(tokens).map(([name, token]) => ({ name, sha256: hashToken(token) })),
);
const input = {
  model: 'gpt-3.5-turbo-instruct',
  prompt: { text: 'Who won the 2019 NBA Finals?' },
  maxTokens: 90,
};

let stub: StubUpstream;

/**
 * Admitted calls wait at the upstream until every request of a burst has been admitted or refused:
 * a call that settled earlier would refund the gap between its estimate and its real usage, and a
 * late request could then fit in that refund.
 */
let gate: { arrived(): void; opened: Promise<void> } | undefined;

beforeAll(async () => {
  stub = await startStubUpstream();
  stub.on('POST', '/completions', async (req, res, recordedRequest) => {
    const held = gate;
    held?.arrived();
    await held?.opened;
    reply.recorded('openai-nonstream-basic.json')(req, res, recordedRequest);
  });
});

afterAll(async () => {
  await stub.close();
});

type LimiterFactory = () => Promise<RateLimiter>;
const backends: [string, LimiterFactory][] = [['memory', async () => createMemoryRateLimiter()]];
if (redisUrl) {
  let prefix = 0;
  const run = Date.now();
  backends.push([
    'redis',
    async () => createRedisRateLimiter({ url: redisUrl, keyPrefix: `test:${run}:${prefix++}:` }),
  ]);
}

/** Sends a burst at once; upstream answers are held until each request is admitted or refused. */
async function burst(requests: (() => Promise<GraphQLResponse>)[]): Promise<GraphQLResponse[]> {
  const before = stub.hits();
  let refusedOrAnswered = 0;
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  // Admitted requests cannot answer while held, so every answer before the opening is a refusal.
  const check = () => {
    if (refusedOrAnswered + stub.hits() - before >= requests.length) open();
  };
  gate = { arrived: check, opened };
  try {
    return await Promise.all(
      requests.map((send) =>
        send().then((response) => {
          refusedOrAnswered++;
          check();
          return response;
        }),
      ),
    );
  } finally {
    gate = undefined;
  }
}

const post = (app: TestApp, token: string) => () =>
  app.post(createCompletion, { input }, { authorization: `Bearer ${token}` });

const parallel = (app: TestApp, token: string, count: number) =>
  burst(Array.from({ length: count }, () => post(app, token)));

describe.each(backends)('%s limiter', (_name, makeLimiter) => {
  it('20 parallel requests against a budget of 5 requests/min: exactly 5 upstream calls, 15 RATE_LIMITED', async () => {
    const limiter = await makeLimiter();
    const app = await startTestApp({
      upstream: { baseUrl: stub.baseUrl },
      app: { authenticator, limiter, rateLimit: { requestsPerMinute: 5, tokensPerMinute: 0 } },
    });
    const before = stub.hits();
    const results = await parallel(app, tokens.alice, 20);
    const limited = results.filter((r) => r.json.errors?.[0]?.extensions?.code === 'RATE_LIMITED');
    expect(stub.hits() - before).toBe(5);
    expect(limited).toHaveLength(15);
    expect(limited[0]?.json.errors[0].extensions).toMatchObject({ limit: 'requests', limitValue: 5 });
    expect(limited[0]?.json.errors[0].extensions.retryAfter).toBeGreaterThanOrEqual(1);
    // Another client has its own budget.
    const bob = await app.post(createCompletion, { input }, { authorization: `Bearer ${tokens.bob}` });
    expect(bob.json.errors).toBeUndefined();
    await app.close();
    await limiter.close();
  });

  it('a token budget admits only what its estimates fit: 500 tokens/min, ~100 per request', async () => {
    const limiter = await makeLimiter();
    const app = await startTestApp({
      upstream: { baseUrl: stub.baseUrl },
      app: { authenticator, limiter, rateLimit: { requestsPerMinute: 0, tokensPerMinute: 500 } },
    });
    const before = stub.hits();
    const results = await parallel(app, tokens.alice, 20);
    // Each estimate is 9 prompt tokens + 90 maxTokens = 99: five fit in 500.
    expect(stub.hits() - before).toBe(5);
    const limited = results.filter((r) => r.json.errors?.[0]?.extensions?.code === 'RATE_LIMITED');
    expect(limited[0]?.json.errors[0].extensions).toMatchObject({ limit: 'tokens', limitValue: 500 });
    await app.close();
    await limiter.close();
  });
});

describe.skipIf(!redisUrl)('two instances sharing Redis', () => {
  it('share one budget: 20 requests split over both, 5 upstream calls', async () => {
    const keyPrefix = `test:${Date.now()}:shared:`;
    const limiters = await Promise.all(
      [0, 1].map(() => createRedisRateLimiter({ url: redisUrl ?? '', keyPrefix })),
    );
    const apps = await Promise.all(
      limiters.map((limiter) =>
        startTestApp({
          upstream: { baseUrl: stub.baseUrl },
          app: { authenticator, limiter, rateLimit: { requestsPerMinute: 5, tokensPerMinute: 0 } },
        }),
      ),
    );
    const before = stub.hits();
    await burst(apps.flatMap((app) => Array.from({ length: 10 }, () => post(app, tokens.alice))));
    expect(stub.hits() - before).toBe(5);
    await Promise.all(apps.map((app) => app.close()));
    await Promise.all(limiters.map((limiter) => limiter.close()));
  });
});

describe('usage ledger', () => {
  let storage: Storage;
  let app: TestApp;

  beforeAll(async () => {
    storage = await createStorage({ sqlitePath: ':memory:' });
    app = await startTestApp({ upstream: { baseUrl: stub.baseUrl }, app: { authenticator, storage } });
  });

  afterAll(async () => {
    await app.close();
    await storage.close();
  });

  it('counts tokens in and out per client and model, each client seeing only its own', async () => {
    const usage = `{ usage { client promptTokens completionTokens totalTokens byModel { model requests promptTokens completionTokens totalTokens } } }`;
    await parallel(app, tokens.alice, 2);
    await parallel(app, tokens.bob, 1);
    await expect
      .poll(
        async () =>
          (await app.post(usage, undefined, { authorization: `Bearer ${tokens.alice}` })).json.data.usage,
      )
      .toEqual({
        client: 'alice',
        promptTokens: 20,
        completionTokens: 24,
        totalTokens: 44,
        byModel: [
          {
            model: 'gpt-3.5-turbo-instruct:20230824-v2',
            requests: 2,
            promptTokens: 20,
            completionTokens: 24,
            totalTokens: 44,
          },
        ],
      });
    const bob = await app.post(usage, undefined, { authorization: `Bearer ${tokens.bob}` });
    expect(bob.json.data.usage).toMatchObject({ client: 'bob', totalTokens: 22 });
  });
});
