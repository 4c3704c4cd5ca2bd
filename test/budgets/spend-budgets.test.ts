import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ClientAuthenticator,
  ClientKeyError,
  hashToken,
  parseClientKeys,
} from '../../src/auth/client-keys.js';
import { createRedisRateLimiter, type RateLimiter } from '../../src/limits/index.js';
import { budgetWindow } from '../../src/limits/spend-budget.js';
import { createCompletion } from '../helpers/operations.js';
import { reply } from '../helpers/stub-upstream.js';
import {
  type StubbedApp,
  startStubbedApp,
  startTestApp,
  stopStubbedApp,
  type TestApp,
} from '../helpers/test-app.js';

/**
 * Spend budgets per client key (CLIENT_KEYS attributes): reserved from the call's price before it
 * goes out, settled with the upstream's usage after (22 tokens, $0.000039 per call here); a hard
 * budget refuses with BUDGET_EXCEEDED, a soft one warns; a key may be limited to some models.
 */

const token = 'alice-token-0123456789';
const keys = (attributes: string) =>
  new ClientAuthenticator(parseClientKeys(`alice:${hashToken(token)} ${attributes}`));
const input = { model: 'gpt-3.5-turbo-instruct', prompt: { text: 'hi' }, maxTokens: 4 };
const auth = { authorization: `Bearer ${token}` };

/** `POST /v1/completions` as this file's client sends it (`gpt-3.5-turbo-instruct`, prompt `hi`). */
function postRest(app: StubbedApp['app'], fields: Record<string, unknown>): Promise<Response> {
  return fetch(`${app.origin}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth },
    body: JSON.stringify({ model: 'gpt-3.5-turbo-instruct', prompt: 'hi', ...fields }),
  });
}

/** One event of an upstream's completion stream. */
function streamEvent(fields: string): string {
  return `data: {"id":"x","object":"text_completion","created":1,"model":"gpt-3.5-turbo-instruct",${fields}}\n\n`;
}

let running: StubbedApp | undefined;
afterEach(async () => {
  if (running) await stopStubbedApp(running);
  running = undefined;
});

async function start(attributes: string): Promise<StubbedApp> {
  running = await startStubbedApp({ app: { authenticator: keys(attributes) } });
  running.stub.on('POST', '/completions', reply.completionOrStream());
  return running;
}

const nextUtcMidnight = () => {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1)).toISOString();
};

describe('hard budgets', () => {
  it('tokens per day: three calls fit, the fourth is BUDGET_EXCEEDED before any upstream call', async () => {
    const { stub, app } = await start('budget=50tokens/day');
    // Each reserves 5 (1 prompt token + 4) and settles at 22: 22, 44, 66; then 66 + 5 > 50.
    for (let i = 0; i < 3; i++)
      expect((await app.post(createCompletion, { input }, auth)).json.errors).toBeUndefined();
    const { json } = await app.post(createCompletion, { input }, auth);
    expect(json.errors[0].extensions).toMatchObject({
      code: 'BUDGET_EXCEEDED',
      budget: { amount: 50, unit: 'TOKENS', period: 'day' },
      spent: 66,
      resetAt: nextUtcMidnight(),
    });
    expect(json.errors[0].message).toBe(
      `Spend budget 50tokens/day: 66 tokens spent of 50 tokens, and this call's price could pass it; no call was made. It resets at ${nextUtcMidnight()}.`,
    );
    expect(stub.hits('/completions')).toBe(3);
  });

  it('USD per day, priced from the table: refused once the next call could pass it', async () => {
    const { stub, app } = await start('budget=0.0001usd/day');
    for (let i = 0; i < 3; i++)
      expect((await app.post(createCompletion, { input }, auth)).json.errors).toBeUndefined();
    const { json } = await app.post(createCompletion, { input }, auth);
    expect(json.errors[0].extensions).toMatchObject({
      code: 'BUDGET_EXCEEDED',
      budget: { unit: 'USD' },
      spent: 0.000117,
    });
    expect(stub.hits('/completions')).toBe(3);
  });

  it('the REST face refuses the same way: 429 budget_exceeded with retry-after', async () => {
    const { app } = await start('budget=20tokens/day');
    const post = () => postRest(app, { max_tokens: 4 });
    expect((await post()).status).toBe(200);
    const refused = await post();
    expect(refused.status).toBe(429);
    expect((await refused.json()).error.code).toBe('budget_exceeded');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('soft budgets', () => {
  it('past it, calls go on with a BUDGET_SOFT_EXCEEDED warning and a log line', async () => {
    const { app } = await start('soft-budget=30tokens/day');
    expect((await app.post(createCompletion, { input }, auth)).json.extensions?.warnings).toBeUndefined();
    const second = await app.post(createCompletion, { input }, auth);
    expect(second.json.data.createCompletion.id).toBeTruthy();
    expect(second.json.extensions.warnings).toEqual([
      { code: 'BUDGET_SOFT_EXCEEDED', message: expect.any(String) },
    ]);
    expect(
      app.logs.some((line) => line.includes('soft spend budget passed') && line.includes('30tokens/day')),
    ).toBe(true);
  });
});

describe('allowed models', () => {
  it('a key limited to some models is refused others with MODEL_NOT_ALLOWED and no call', async () => {
    const { stub, app } = await start('models=local-ngram-moby-dick|babbage-002');
    const { json } = await app.post(createCompletion, { input }, auth);
    expect(json.errors[0].extensions).toMatchObject({
      code: 'MODEL_NOT_ALLOWED',
      model: 'gpt-3.5-turbo-instruct',
    });
    const rest = await postRest(app, {});
    expect(rest.status).toBe(403);
    expect((await rest.json()).error).toMatchObject({ code: 'model_not_allowed', param: 'model' });
    expect(stub.hits('/completions')).toBe(0);
  });

  it('Query.models, Query.model and GET /v1/models show such a key only its models', async () => {
    const { stub, app } = await start('models=babbage-002');
    stub.on('GET', '/models', reply.models('gpt-3.5-turbo-instruct', 'babbage-002'));
    const { json } = await app.post('{ models { id } model(id: "gpt-3.5-turbo-instruct") { id } }', {}, auth);
    expect(json.data).toEqual({ models: [{ id: 'babbage-002' }], model: null });
    // The REST face's list agrees.
    const list = await fetch(`${app.origin}/v1/models`, { headers: auth });
    expect(((await list.json()) as { data: { id: string }[] }).data.map((model) => model.id)).toEqual([
      'babbage-002',
    ]);
    const one = await fetch(`${app.origin}/v1/models/gpt-3.5-turbo-instruct`, { headers: auth });
    expect(one.status).toBe(404);
  });
});

describe('streams are never billed as 0', () => {
  it('the upstream is asked for usage; the caller that did not ask does not see the usage chunk', async () => {
    const { stub, app } = await start('budget=44tokens/day');
    const usageChunk = streamEvent(
      '"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":30,"total_tokens":40}',
    );
    const finish = streamEvent('"choices":[{"text":"!","index":0,"logprobs":null,"finish_reason":"length"}]');
    stub.on(
      'POST',
      '/completions',
      reply.sse([finish, usageChunk, 'data: [DONE]\n\n']),
      reply.completionOrStream(),
    );
    const response = await postRest(app, { max_tokens: 4, stream: true });
    const text = await response.text();
    expect(text).toContain('"finish_reason":"length"');
    expect(text).not.toContain('total_tokens');
    expect(stub.requests[0]?.json).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    // The stream was charged its 40 tokens (it reserved 5): 40 + 5 > 44.
    const { json } = await app.post(createCompletion, { input }, auth);
    expect(json.errors[0].extensions).toMatchObject({ code: 'BUDGET_EXCEEDED', spent: 40 });
  });
});

describe('a stream whose upstream sends no usage', () => {
  it('is charged its prompt and one token per streamed piece, never 0', async () => {
    const { stub, app } = await start('budget=14tokens/day');
    // The recorded stream: 7 pieces, no usage chunk although asked.
    const events = await postRest(app, { max_tokens: 4, stream: true });
    expect(await events.text()).toContain('[DONE]');
    // The stream: 1 prompt token + 7 pieces = 8. A call reserves 5 (13 fits) and settles at 22: 30
    // (22 had the stream been billed as 0); then 30 + 5 > 14.
    expect((await app.post(createCompletion, { input }, auth)).json.errors).toBeUndefined();
    const { json } = await app.post(createCompletion, { input }, auth);
    expect(json.errors[0].extensions).toMatchObject({ code: 'BUDGET_EXCEEDED', spent: 30 });
    expect(stub.hits('/completions')).toBe(2);
  });
});

describe('a stream that fails after it delivered text', () => {
  it('is charged its prompt and what arrived, whatever the error says (vLLM ends streams so)', async () => {
    const { stub, app } = await start('budget=25tokens/day');
    const piece = (text: string) =>
      streamEvent(`"choices":[{"text":"${text}","index":0,"logprobs":null,"finish_reason":null}]`);
    const failure =
      'data: {"error":{"message":"The generation failed","type":"invalid_request_error","code":400}}\n\n';
    stub.on(
      'POST',
      '/completions',
      reply.sse([...Array.from({ length: 20 }, () => piece('a')), failure]),
      reply.completionOrStream(),
    );
    const stream = await postRest(app, { max_tokens: 20, stream: true });
    expect((await stream.text()).match(/"text":"a"/g)).toHaveLength(20);
    // 1 prompt token + 20 pieces = 21 (0 before: the error was taken as "billed nothing"); 21 + 5 > 25.
    const { json } = await app.post(createCompletion, { input }, auth);
    expect(json.errors[0].extensions).toMatchObject({ code: 'BUDGET_EXCEEDED', spent: 21 });
    expect(stub.hits('/completions')).toBe(1);
  });
});

describe('a stream cut short without its usage', () => {
  it('is charged the tokens of the text that arrived, not one per chunk (a chunk may carry many)', async () => {
    const { stub, app } = await start('budget=13tokens/day');
    const chunk = streamEvent(
      '"choices":[{"text":" one two three four five six seven eight","index":0,"logprobs":null,"finish_reason":null}]',
    );
    stub.on('POST', '/completions', reply.sse([chunk]), reply.completionOrStream());
    const stream = await postRest(app, { max_tokens: 10, stream: true });
    expect(await stream.text()).toContain('one two three');
    // 1 prompt token + the 8 tokens that arrived (2 before: one per chunk); 9 + 5 > 13.
    const { json } = await app.post(createCompletion, { input }, auth);
    expect(json.errors[0].extensions).toMatchObject({ code: 'BUDGET_EXCEEDED', spent: 9 });
    expect(stub.hits('/completions')).toBe(1);
  });
});

describe('USD budgets and model names without a price', () => {
  it.each([
    ['an unpriced name (a deployment alias)', 'gpt-35-turbo-instruct'],
    ['another priced model', 'davinci-002'],
  ])('an answer under %s is charged at the price of the model asked for', async (_what, answered) => {
    const { stub, app } = await start('budget=0.0001usd/day');
    stub.on('POST', '/completions', (req, res, request) => {
      const body = JSON.stringify({
        id: 'cmpl-alias',
        object: 'text_completion',
        created: 1,
        model: answered,
        choices: [{ text: 'ok', index: 0, logprobs: null, finish_reason: 'stop' }],
        usage: { prompt_tokens: 10, completion_tokens: 12, total_tokens: 22 },
      });
      void req;
      void request;
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
    for (let i = 0; i < 3; i++)
      expect((await app.post(createCompletion, { input }, auth)).json.errors).toBeUndefined();
    const { json } = await app.post(createCompletion, { input }, auth);
    expect(json.errors[0].extensions).toMatchObject({ code: 'BUDGET_EXCEEDED', spent: 0.000117 });
    expect(stub.hits('/completions')).toBe(3);
  });

  it.each(['my-unpriced-model', 'davinci-002:ft-expensive'])(
    'a key with a hard USD budget is refused %s (no price of its own), before any call',
    async (model) => {
      const { stub, app } = await start('budget=1usd/day');
      const { json } = await app.post(createCompletion, { input: { ...input, model } }, auth);
      expect(json.errors[0].extensions).toMatchObject({ code: 'MODEL_NOT_ALLOWED' });
      expect(json.errors[0].message).toContain('has no price');
      expect(stub.hits('/completions')).toBe(0);
    },
  );

  it('a key with only token or soft USD budgets may still use it', async () => {
    const { stub, app } = await start('budget=1000tokens/day soft-budget=1usd/day');
    const { json } = await app.post(
      createCompletion,
      { input: { ...input, model: 'my-unpriced-model' } },
      auth,
    );
    expect(json.errors).toBeUndefined();
    expect(stub.hits('/completions')).toBe(1);
  });
});

describe('windows', () => {
  it('days and months are UTC calendar ones; durations count from the epoch', () => {
    const at = Date.parse('2026-11-30T23:59:59.999Z');
    expect(budgetWindow({ kind: 'day' }, at)).toEqual({
      id: '2026-11-30',
      resetAt: Date.parse('2026-12-01T00:00:00Z'),
    });
    expect(budgetWindow({ kind: 'month' }, at)).toEqual({
      id: '2026-11',
      resetAt: Date.parse('2026-12-01T00:00:00Z'),
    });
    expect(budgetWindow({ kind: 'day' }, at + 1).id).toBe('2026-12-01');
    expect(budgetWindow({ kind: 'every', ms: 3_600_000 }, at).resetAt).toBe(
      Date.parse('2026-12-01T00:00:00Z'),
    );
  });

  it('key attributes are checked at start', () => {
    const entry = (attributes: string) => () => parseClientKeys(`bob:${hashToken('x')} ${attributes}`);
    expect(entry('budget=5usd/day soft-budget=1000tokens/30d models=a|b')()[0]?.policy).toMatchObject({
      budgets: [
        { hard: true, unit: 'usd', amount: 5, period: { kind: 'day' } },
        { hard: false, unit: 'tokens', amount: 1000, period: { kind: 'every', ms: 30 * 86_400_000 } },
      ],
      models: new Set(['a', 'b']),
    });
    expect(entry('budget=5eur/day')).toThrow(ClientKeyError);
    expect(entry('budget=1.5tokens/day')).toThrow(/whole for tokens/);
    expect(entry('budget=5usd/10s')).toThrow(/1m or more/);
    expect(entry('limit=3')).toThrow(/unknown key attribute "limit"/);
    expect(entry('budget=5usd/day budget=5USD/day')).toThrow(/given twice/);
    expect(entry('budget=5usd/day soft-budget=5usd/day')()[0]?.policy?.budgets).toHaveLength(2);
  });
});

const redisUrl = process.env.TEST_REDIS_URL;

describe.skipIf(redisUrl === undefined)('two instances sharing Redis', () => {
  const opened: { app: TestApp; limiter: RateLimiter }[] = [];
  afterEach(async () => {
    for (const { app, limiter } of opened.splice(0)) {
      await app.close();
      await limiter.close();
    }
  });

  it('spend in one counts in the other: the budget is one', async () => {
    const started = await startStubbedApp();
    running = started;
    started.stub.on('POST', '/completions', reply.completionOrStream());
    const keyPrefix = `test:budgets:${randomUUID()}:`;
    const authenticator = keys('budget=50tokens/day');
    for (let i = 0; i < 2; i++) {
      const limiter = await createRedisRateLimiter({ url: redisUrl as string, keyPrefix });
      const app = await startTestApp({
        upstream: { baseUrl: started.stub.baseUrl },
        app: { authenticator, limiter },
      });
      opened.push({ app, limiter });
    }
    const [a, b] = opened.map((o) => o.app) as [TestApp, TestApp];
    expect((await a.post(createCompletion, { input }, auth)).json.errors).toBeUndefined();
    expect((await b.post(createCompletion, { input }, auth)).json.errors).toBeUndefined();
    expect((await a.post(createCompletion, { input }, auth)).json.errors).toBeUndefined();
    const { json } = await b.post(createCompletion, { input }, auth);
    expect(json.errors[0].extensions).toMatchObject({ code: 'BUDGET_EXCEEDED', spent: 66 });
    expect(started.stub.hits('/completions')).toBe(3);
  });
});
