import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientAuthenticator, hashToken } from '../../src/auth/client-keys.js';
import { configDefaults } from '../../src/config.js';
import { createMemoryRateLimiter, type RateLimiter } from '../../src/limits/index.js';
import { createStorage, type Storage } from '../../src/storage/index.js';
import { createCompletion } from '../helpers/operations.js';
import { recordedJson } from '../helpers/recorded.js';
import { reply } from '../helpers/stub-upstream.js';
import { type StubbedApp, startStubbedApp, stopStubbedApp } from '../helpers/test-app.js';

/**
 * Money under faults, and the REST face held to the same rules as GraphQL: one use case, one
 * ceiling, one budget, one ledger.
 */

const token = 'ck-money-alice-1';
const authenticator = new ClientAuthenticator([{ name: 'alice', sha256: hashToken(token) }]);
const auth = { authorization: `Bearer ${token}` };
const input = { model: 'gpt-3.5-turbo-instruct', prompt: { text: 'Who won?' }, maxTokens: 20 };

async function rest(stubbed: StubbedApp, body: unknown) {
  const response = await fetch(`${stubbed.app.origin}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, never> };
}

async function usage(stubbed: StubbedApp) {
  const response = await stubbed.app.post('{ usage { byModel { model requests } } }', {}, auth);
  return response.json.data.usage.byModel as { model: string; requests: number }[];
}

describe('the REST face goes through the GraphQL use case', () => {
  let stubbed: StubbedApp;
  let storage: Storage;

  beforeAll(async () => {
    storage = await createStorage({ sqlitePath: ':memory:' });
    stubbed = await startStubbedApp({
      app: {
        authenticator,
        storage,
        rateLimit: { requestsPerMinute: 3, tokensPerMinute: 0 },
        limits: { ...configDefaults.limits, defaultMaxTokens: 40 },
      },
    });
    stubbed.stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
  });
  afterAll(async () => {
    await stopStubbedApp(stubbed);
    await storage.close();
  });

  it('refuses max_tokens above the per-operation ceiling before any call', async () => {
    const before = stubbed.stub.hits('/completions');
    const { status, json } = await rest(stubbed, { model: 'm', prompt: 'x', max_tokens: 1_000_000 });
    expect(status).toBe(400);
    expect(json.error).toMatchObject({ code: 'cost_limit_exceeded', param: 'max_tokens' });
    expect(stubbed.stub.hits('/completions') - before).toBe(0);
  });

  it('sends the server default max_tokens when none is given, on both faces, so price and call agree', async () => {
    await rest(stubbed, { model: 'm', prompt: 'x' });
    expect(stubbed.stub.requests.at(-1)?.json).toMatchObject({ max_tokens: 40 });
    const { maxTokens: _omitted, ...noMax } = input;
    await stubbed.app.post(createCompletion, { input: noMax }, auth);
    expect(stubbed.stub.requests.at(-1)?.json).toMatchObject({ max_tokens: 40 });
  });

  it('counts REST calls in the client budget and the usage ledger', async () => {
    // Two calls so far (above); the third fits the budget of 3, the fourth does not.
    expect((await rest(stubbed, { model: 'm', prompt: 'x', max_tokens: 5 })).status).toBe(200);
    const refused = await rest(stubbed, { model: 'm', prompt: 'x', max_tokens: 5 });
    expect(refused.status).toBe(429);
    await expect.poll(async () => (await usage(stubbed)).reduce((sum, row) => sum + row.requests, 0)).toBe(3);
  });
});

/** A limiter whose settlements fail, as Redis going away between the reservation and the answer. */
function settlementsFail(): RateLimiter {
  const inner = createMemoryRateLimiter();
  return {
    async reserve(client, tokens, policy) {
      const result = await inner.reserve(client, tokens, policy);
      if (!result.ok) return result;
      return {
        ok: true,
        reservation: {
          settle: () => Promise.reject(new Error('ECONNRESET')),
          release: () => result.reservation.release(),
        },
      };
    },
    close: () => inner.close(),
  };
}

describe('faults after the paid call', () => {
  let stubbed: StubbedApp;
  let storage: Storage;

  beforeAll(async () => {
    storage = await createStorage({ sqlitePath: ':memory:' });
    stubbed = await startStubbedApp({
      app: {
        authenticator,
        storage,
        limiter: settlementsFail(),
        rateLimit: { requestsPerMinute: 100, tokensPerMinute: 100_000 },
      },
    });
  });
  afterAll(async () => {
    await stopStubbedApp(stubbed);
    await storage.close();
  });

  it('the limiter failing after the call never loses the paid completion: returned with a warning', async () => {
    stubbed.stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
    const response = await stubbed.app.post(createCompletion, { input }, auth);
    expect(response.json.errors).toBeUndefined();
    expect(response.json.data.createCompletion.id).toMatch(/^cmpl-/);
    expect(response.json.extensions.warnings).toEqual([
      expect.objectContaining({ code: 'USAGE_NOT_SETTLED' }),
    ]);
    expect(response.text).not.toMatch(/no call was made/);
  });

  it('a billed call that ended in an error is in the ledger', async () => {
    const before = (await usage(stubbed)).reduce((sum, row) => sum + row.requests, 0);
    stubbed.stub.on('POST', '/completions', reply.resetMidBody('{"id":"cmpl-'));
    const response = await stubbed.app.post(createCompletion, { input }, auth);
    // Cut after the upstream started answering: it may well have billed.
    expect(response.json.errors[0].extensions.code).toMatch(/^UPSTREAM_(BAD_RESPONSE|UNAVAILABLE)$/);
    await expect
      .poll(async () => (await usage(stubbed)).reduce((sum, row) => sum + row.requests, 0))
      .toBe(before + 1);
  });
});

describe('shutdown', () => {
  it('flushes the ledger writes of calls already made before it resolves', async () => {
    const storage = await createStorage({ sqlitePath: ':memory:' });
    const written: string[] = [];
    let release: () => void = () => {};
    const slowDisk = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slowLedger = {
      ...storage.usage,
      async record(entry: Parameters<Storage['usage']['record']>[0]) {
        await slowDisk;
        await storage.usage.record(entry);
        written.push(entry.model);
      },
    };
    const stubbed = await startStubbedApp({
      app: { authenticator, storage: { ...storage, usage: slowLedger } },
    });
    stubbed.stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
    const response = await stubbed.app.post(createCompletion, { input }, auth);
    expect(response.json.data.createCompletion.id).toMatch(/^cmpl-/);
    const closing = stubbed.app.app.close(100);
    // The HTTP side is done once no connection is left; the pending ledger write still holds close.
    await expect.poll(() => stubbed.app.app.server.listening).toBe(false);
    const turn = () => new Promise((resolve) => setImmediate(() => resolve('pending')));
    await expect(Promise.race([closing.then(() => 'closed'), turn().then(turn).then(turn)])).resolves.toBe(
      'pending',
    );
    release();
    await closing;
    expect(written).toEqual(['gpt-3.5-turbo-instruct:20230824-v2']);
    await stubbed.stub.close();
    await storage.close();
  });
});

describe('the ledger in dollars', () => {
  /** An app with its own SQLite ledger and this price (per million tokens) for the recorded model. */
  async function withPrice(
    price: { input: number; output: number },
    run: (stubbed: StubbedApp) => Promise<void>,
  ): Promise<void> {
    const storage = await createStorage({ sqlitePath: ':memory:' });
    const stubbed = await startStubbedApp({
      app: { authenticator, storage, prices: new Map([['gpt-3.5-turbo-instruct:20230824-v2', price]]) },
    });
    try {
      stubbed.stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
      await run(stubbed);
    } finally {
      await stopStubbedApp(stubbed);
      await storage.close();
    }
  }

  it('carries each model’s cost, priced when the calls were made, and null for a model without a price', () =>
    withPrice({ input: 1.5, output: 2 }, async (stubbed) => {
      await stubbed.app.post(createCompletion, { input }, auth);
      await stubbed.app.post(createCompletion, { input }, auth);
      const unpriced = { ...(recordedJson('openai-nonstream-basic.json') as object), model: 'llama-3' };
      stubbed.stub.on('POST', '/completions', reply.json(200, unpriced));
      await stubbed.app.post(createCompletion, { input: { ...input, model: 'llama-3' } }, auth);
      const response = await stubbed.app.post(
        '{ usage { costUsd byModel { model requests costUsd } } }',
        {},
        auth,
      );
      // Two calls of 10 tokens in and 12 out at 1.5 and 2 USD per million.
      expect(response.json.data.usage.byModel).toEqual([
        { model: 'gpt-3.5-turbo-instruct:20230824-v2', requests: 2, costUsd: 0.000078 },
        { model: 'llama-3', requests: 1, costUsd: null },
      ]);
      expect(response.json.data.usage.costUsd).toBeNull();
    }));

  it('sums without float noise: five calls of $0.000586 are $0.00293, not 0.0029300000000000003', () =>
    withPrice({ input: 58.6, output: 0 }, async (stubbed) => {
      for (let i = 0; i < 5; i++) await stubbed.app.post(createCompletion, { input }, auth);
      const response = await stubbed.app.post('{ usage { costUsd byModel { costUsd } } }', {}, auth);
      expect(response.json.data.usage).toEqual({ costUsd: 0.00293, byModel: [{ costUsd: 0.00293 }] });
    }));
});
