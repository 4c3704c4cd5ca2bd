import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ClientAuthenticator, hashToken, parseClientKeys } from '../../src/auth/client-keys.js';
import { createStorage, type Storage } from '../../src/storage/index.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { createMemoryPromptCache, type PromptCacheStore } from '../../src/templates/cache-store.js';
import { parsePromptsFile } from '../../src/templates/config-file.js';
import { reply } from '../helpers/stub-upstream.js';
import { type StubbedApp, startStubbedApp, stopStubbedApp } from '../helpers/test-app.js';
import { answerEach, cacheTemplatesYaml, fieldQuery, gated } from './cache-support.js';

/**
 * Template results reused across calls and clients, over real HTTP in front of the stub upstream:
 * only results meant to be repeatable, for their TTL (the store's clock, moved by the test), free
 * for the caller, counted apart in the ledger, one upstream call for concurrent identical misses,
 * and the Cache-Control a gateway needs to keep them too.
 */

const keys = { alice: 'ck-alice-cache', bob: 'ck-bob-cache', narrow: 'ck-narrow-cache' } as const;
const as = (name: keyof typeof keys) => ({ authorization: `Bearer ${keys[name]}` });

let stubbed: StubbedApp;
let storage: Storage;
let now = Date.now();
let store: PromptCacheStore;
const metrics = createMetrics();
let run = 0;
/** A name no earlier test used: each test starts with nothing cached for it. */
let name = '';
const calls = () => stubbed.stub.hits('/completions');
const ask = (field: string, who: keyof typeof keys, variables: Record<string, unknown> = {}) =>
  stubbed.app.post(fieldQuery(field), { name, ...variables }, as(who));

beforeAll(async () => {
  storage = await createStorage({ sqlitePath: ':memory:' });
  store = createMemoryPromptCache({ now: () => now });
  stubbed = await startStubbedApp({
    app: {
      prompts: { templates: parsePromptsFile(cacheTemplatesYaml), allowRawPrompts: true },
      storage,
      promptCache: store,
      metrics,
      authenticator: new ClientAuthenticator(
        parseClientKeys(
          [
            `alice:${hashToken(keys.alice)}`,
            `bob:${hashToken(keys.bob)}`,
            `narrow:${hashToken(keys.narrow)} models=local-only`,
          ].join('\n'),
        ),
      ),
    },
  });
  stubbed.stub.on('POST', '/completions', answerEach);
});
afterAll(async () => {
  await stopStubbedApp(stubbed);
  await storage.close();
});
beforeEach(() => {
  name = `Lamp ${++run}`;
  stubbed.stub.on('POST', '/completions', answerEach);
});

describe('reuse', () => {
  it('the same arguments again: no upstream call, cached: true, the same text, free in extensions.usage', async () => {
    const first = await ask('summary', 'alice');
    expect(first.json.data.prompt.summary).toMatchObject({ cached: false, usage: { totalTokens: 9 } });
    expect(first.json.extensions.usage.calls).toEqual([expect.objectContaining({ promptTokens: 5 })]);
    const before = calls();
    const second = await ask('summary', 'alice');
    expect(calls()).toBe(before);
    expect(second.json.data.prompt.summary).toEqual({ ...first.json.data.prompt.summary, cached: true });
    const exposition = await metrics.registry.metrics();
    expect(exposition).toMatch(/^prompt_cache_results_total\{template="summary",outcome="hit"\} [1-9]/m);
    expect(exposition).toMatch(/^prompt_cache_results_total\{template="summary",outcome="miss"\} [1-9]/m);
    expect(second.json.extensions.usage).toEqual({
      calls: [
        {
          field: 'prompt.summary',
          model: 'gpt-3.5-turbo-instruct',
          promptTokens: 0,
          completionTokens: 0,
          costUsd: 0,
          cachedResults: 1,
        },
      ],
      costUsd: 0,
    });
  });

  it('is shared between clients: what alice paid for, bob reuses; the ledger counts it apart, free', async () => {
    await ask('summary', 'alice');
    const before = calls();
    const bob = await ask('summary', 'bob');
    expect(bob.json.data.prompt.summary.cached).toBe(true);
    expect(calls()).toBe(before);
    const usage = await stubbed.app.post(
      '{ usage { byModel { model requests cachedRequests totalTokens costUsd } } }',
      {},
      as('bob'),
    );
    expect(usage.json.data.usage.byModel).toEqual([
      { model: 'gpt-3.5-turbo-instruct', requests: 0, cachedRequests: 1, totalTokens: 0, costUsd: 0 },
    ]);
  });

  it('scope: client — each client reuses only its own results; another pays for its own call', async () => {
    const alice = await ask('private', 'alice');
    expect(alice.json.data.prompt.private.cached).toBe(false);
    const before = calls();
    const bob = await ask('private', 'bob');
    expect(bob.json.data.prompt.private.cached).toBe(false);
    expect(bob.json.data.prompt.private.completionId).not.toBe(alice.json.data.prompt.private.completionId);
    expect(calls()).toBe(before + 1);
    const again = await ask('private', 'alice');
    expect(again.json.data.prompt.private).toEqual({ ...alice.json.data.prompt.private, cached: true });
    expect(calls()).toBe(before + 1);
  });

  it('texts that differ only in lone surrogates do not share a result', async () => {
    name = `lone ${run} \ud800`;
    expect((await ask('summary', 'alice')).json.data.prompt.summary.cached).toBe(false);
    name = `lone ${run} \udbff`;
    expect((await ask('summary', 'alice')).json.data.prompt.summary.cached).toBe(false);
  });

  it('a key limited to other models gets MODEL_NOT_ALLOWED even for a cached result', async () => {
    await ask('summary', 'alice');
    const narrow = await ask('summary', 'narrow');
    // Blamed on the template field: its model is the operator's, not an argument the caller sent.
    expect(narrow.json.errors?.[0]?.extensions).toMatchObject({
      code: 'MODEL_NOT_ALLOWED',
      argument: 'summary',
      model: 'gpt-3.5-turbo-instruct',
    });
    expect(narrow.json.data).toBeNull();
    name = `${name} (not cached)`;
    const miss = await ask('summary', 'narrow');
    expect(miss.json.errors?.[0]?.extensions).toMatchObject({
      code: 'MODEL_NOT_ALLOWED',
      argument: 'summary',
    });
  });

  it('temperature 0.7 without a seed is never reused; reuse: always is', async () => {
    const before = calls();
    const a = await ask('tagline', 'alice');
    const b = await ask('tagline', 'alice');
    expect([a.json.data.prompt.tagline.cached, b.json.data.prompt.tagline.cached]).toEqual([false, false]);
    expect(b.json.data.prompt.tagline.text).not.toBe(a.json.data.prompt.tagline.text);
    expect(calls() - before).toBe(2);
    await ask('stable', 'alice');
    const again = await ask('stable', 'alice');
    expect(again.json.data.prompt.stable.cached).toBe(true);
    expect(calls() - before).toBe(3);
  });

  it('overrides: a caller making it random is not reused, a seed makes it repeatable, user is not in the key', async () => {
    const before = calls();
    await ask('summary', 'alice', { o: { temperature: 0.8 } });
    await ask('summary', 'alice', { o: { temperature: 0.8 } });
    expect(calls() - before).toBe(2);
    await ask('tagline', 'alice', { o: { seed: 42 } });
    const seeded = await ask('tagline', 'alice', { o: { seed: 42 } });
    expect(seeded.json.data.prompt.tagline.cached).toBe(true);
    // Another seed, another maxTokens: other sampling, other results.
    await ask('tagline', 'alice', { o: { seed: 43 } });
    await ask('summary', 'alice', { o: { maxTokens: 7 } });
    expect(calls() - before).toBe(5);
    await ask('summary', 'alice', { o: { maxTokens: 7, user: 'someone-else' } });
    expect(calls() - before).toBe(5);
  });

  it('after its TTL (the store’s clock) the result is made again', async () => {
    await ask('summary', 'alice');
    now += 59_000;
    expect((await ask('summary', 'alice')).json.data.prompt.summary.cached).toBe(true);
    const before = calls();
    now += 1_000;
    expect((await ask('summary', 'alice')).json.data.prompt.summary.cached).toBe(false);
    expect(calls()).toBe(before + 1);
  });
});

describe('single flight', () => {
  it('8 concurrent identical misses make one upstream call; all get its text', async () => {
    const gate = gated(answerEach);
    stubbed.stub.on('POST', '/completions', gate.handler);
    const before = calls();
    const answers = Array.from({ length: 8 }, () => ask('summary', 'alice'));
    await expect.poll(calls).toBe(before + 1);
    gate.open();
    const texts = (await Promise.all(answers)).map((r) => r.json.data.prompt.summary.text);
    expect(new Set(texts).size).toBe(1);
    expect(calls()).toBe(before + 1);
  });

  it('when the first caller’s call fails, the next caller makes its own call instead of taking its error', async () => {
    const gate = gated(reply.json(400, { error: { message: 'bad', type: 'invalid_request_error' } }));
    stubbed.stub.on('POST', '/completions', gate.handler, answerEach);
    const before = calls();
    const first = ask('summary', 'alice');
    await expect.poll(calls).toBe(before + 1);
    const second = ask('summary', 'bob');
    gate.open();
    expect((await first).json.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await second).json.data.prompt.summary).toMatchObject({ cached: false });
    expect(calls()).toBe(before + 2);
  });
});

describe('Cache-Control for gateways', () => {
  it('a reusable result: private (clients authenticate), max-age of what is left of its TTL', async () => {
    const first = await ask('summary', 'alice');
    expect(first.headers.get('cache-control')).toBe('private, max-age=60');
    now += 15_000;
    const second = await ask('summary', 'alice');
    expect(second.headers.get('cache-control')).toBe('private, max-age=45');
  });

  it('no-store for a result that is not reusable, or with any other field, or with an error', async () => {
    expect((await ask('tagline', 'alice')).headers.get('cache-control')).toBe('no-store, max-age=0');
    const mixed = await stubbed.app.post(fieldQuery('summary', 'usage { client }'), { name }, as('alice'));
    expect(mixed.json.data.prompt.summary.text).toBeTruthy();
    expect(mixed.headers.get('cache-control')).toBe('no-store, max-age=0');
    const refused = await ask('summary', 'narrow');
    expect(refused.headers.get('cache-control')).toBe('no-store, max-age=0');
    // A client's own data: no-store, so a gateway cache with a default TTL never keeps it.
    const usage = await stubbed.app.post('{ usage { client } }', {}, as('alice'));
    expect(usage.headers.get('cache-control')).toBe('no-store, max-age=0');
  });

  it('no-store for a query refused before it runs, on the JSON route and through yoga (a GET)', async () => {
    const badOverride = await ask('summary', 'alice', { o: { temperature: 9 } });
    expect(badOverride.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(badOverride.headers.get('cache-control')).toBe('no-store, max-age=0');
    const url = new URL(stubbed.app.graphqlUrl);
    url.searchParams.set('query', fieldQuery('summary'));
    url.searchParams.set('variables', JSON.stringify({ name, o: { temperature: 9 } }));
    const viaGet = await fetch(url, { headers: { ...as('alice'), 'x-graphql-yoga-csrf': '1' } });
    expect(
      ((await viaGet.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code,
    ).toBe('BAD_USER_INPUT');
    expect(viaGet.headers.get('cache-control')).toBe('no-store, max-age=0');
  });

  it('an event stream of a query keeps no-cache: no hint on a stream', async () => {
    await ask('summary', 'alice');
    const response = await fetch(stubbed.app.graphqlUrl, {
      method: 'POST',
      headers: { ...as('alice'), 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: fieldQuery('summary'), variables: { name } }),
    });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(await response.text()).toMatch(/"cached":true/);
    expect(response.headers.get('cache-control')).toBe('no-cache');
  });

  it('nothing for a mutation: HTTP caches do not keep those', async () => {
    const response = await stubbed.app.post(
      'mutation { createCompletion(input: { model: "gpt-3.5-turbo-instruct", prompt: { text: "Hi" }, maxTokens: 2 }) { id } }',
      {},
      as('alice'),
    );
    expect(response.json.data.createCompletion.id).toBeTruthy();
    expect(response.headers.get('cache-control')).toBeNull();
  });
});

describe('a store that fails', () => {
  it('is a miss: the call is made and answered, never an error', async () => {
    const broken: PromptCacheStore = {
      kind: 'memory',
      getMany: () => Promise.reject(new Error('store down')),
      setMany: () => Promise.reject(new Error('store down')),
    };
    const corrupt: PromptCacheStore = {
      kind: 'memory',
      getMany: (keys) => Promise.resolve(keys.map(() => '{"texts":"not a list"}')),
      setMany: () => Promise.resolve(),
    };
    for (const promptCache of [broken, corrupt]) {
      const other = await startStubbedApp({
        app: {
          prompts: { templates: parsePromptsFile(cacheTemplatesYaml), allowRawPrompts: true },
          promptCache,
        },
      });
      other.stub.on('POST', '/completions', answerEach);
      try {
        for (let i = 0; i < 2; i++) {
          const response = await other.app.post(fieldQuery('summary'), { name });
          expect(response.json.data.prompt.summary.cached).toBe(false);
        }
        expect(other.stub.hits('/completions')).toBe(2);
      } finally {
        await stopStubbedApp(other);
      }
    }
  });
});

describe('with pass-through upstream keys (UPSTREAM_KEY_PASSTHROUGH)', () => {
  it('a result paid with a caller’s own key is never served to another caller, nor read by one', async () => {
    const own = await startStubbedApp({
      app: {
        prompts: { templates: parsePromptsFile(cacheTemplatesYaml), allowRawPrompts: true },
        promptCache: createMemoryPromptCache(),
        upstreamKeyPassthrough: true,
      },
    });
    try {
      // The upstream answers with a text that depends on the key (as per-key aliases do).
      own.stub.on('POST', '/completions', (req, res, request) => {
        const key = String(req.headers.authorization).slice(-4);
        reply.json(200, {
          id: `cmpl-${key}`,
          object: 'text_completion',
          created: 1,
          model: 'gpt-3.5-turbo-instruct',
          choices: [{ text: `for ${key}`, index: 0, logprobs: null, finish_reason: 'stop' }],
          usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 },
        })(req, res, request);
      });
      const asKey = (key: string) =>
        own.app.post(fieldQuery('summary'), { name: 'Lamp' }, { 'x-upstream-api-key': key });
      const first = await asKey('sk-valid-key-AAAA');
      expect(first.json.data.prompt.summary).toMatchObject({ text: 'for AAAA', cached: false });
      const other = await asKey('sk-other-key-BBBB');
      expect(other.json.data.prompt.summary).toMatchObject({ text: 'for BBBB', cached: false });
      const again = await asKey('sk-valid-key-AAAA');
      expect(again.json.data.prompt.summary).toMatchObject({ cached: false });
      expect(own.stub.hits('/completions')).toBe(3);
    } finally {
      await stopStubbedApp(own);
    }
  });
});
