import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompletion } from '../helpers/operations.js';
import { reply, type StubUpstream } from '../helpers/stub-upstream.js';
import { startStubbedApp, stopStubbedApp, type TestApp } from '../helpers/test-app.js';

/** Every documented rule at its boundary (accepted) and one past it (refused, with no upstream call). */

let stub: StubUpstream;
let app: TestApp;

beforeAll(async () => {
  ({ stub, app } = await startStubbedApp());
  stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
});

afterAll(() => stopStubbedApp({ stub, app }));

const base = { model: 'gpt-3.5-turbo-instruct', prompt: { text: 'Say this is a test' } };

type Case = [name: string, overrides: Record<string, unknown>, argument: string];

const refused: Case[] = [
  ['temperature above 2', { temperature: 2.01 }, 'input.temperature'],
  ['temperature below 0', { temperature: -0.01 }, 'input.temperature'],
  ['topP above 1', { topP: 1.0001 }, 'input.topP'],
  ['topP below 0', { topP: -0.1 }, 'input.topP'],
  ['n of 0', { n: 0 }, 'input.n'],
  ['n above 128', { n: 129 }, 'input.n'],
  ['logprobs above 5', { logprobs: 6 }, 'input.logprobs'],
  ['logprobs below 0', { logprobs: -1 }, 'input.logprobs'],
  ['bestOf above 20', { bestOf: 21 }, 'input.bestOf'],
  ['bestOf below n', { n: 3, bestOf: 2 }, 'input.bestOf'],
  ['five stop sequences', { stop: ['a', 'b', 'c', 'd', 'e'] }, 'input.stop'],
  ['an empty stop sequence', { stop: [''] }, 'input.stop'],
  ['presencePenalty above 2', { presencePenalty: 2.5 }, 'input.presencePenalty'],
  ['presencePenalty below -2', { presencePenalty: -2.01 }, 'input.presencePenalty'],
  ['frequencyPenalty above 2', { frequencyPenalty: 2.01 }, 'input.frequencyPenalty'],
  ['frequencyPenalty below -2', { frequencyPenalty: -3 }, 'input.frequencyPenalty'],
  ['logit bias above 100', { logitBias: [{ token: 50256, bias: 100.5 }] }, 'input.logitBias'],
  ['logit bias below -100', { logitBias: [{ token: 50256, bias: -101 }] }, 'input.logitBias'],
  ['a negative token in logit bias', { logitBias: [{ token: -1, bias: 1 }] }, 'input.logitBias'],
  ['maxTokens below 0', { maxTokens: -1 }, 'input.maxTokens'],
  ['maxTokens 0 without echo', { maxTokens: 0 }, 'input.maxTokens'],
  ['an empty texts list', { prompt: { texts: [] } }, 'input.prompt'],
  ['an empty tokens list', { prompt: { tokens: [] } }, 'input.prompt'],
  ['an empty token batch list', { prompt: { tokenBatches: [] } }, 'input.prompt'],
  ['an empty token batch', { prompt: { tokenBatches: [[1, 2], []] } }, 'input.prompt'],
  ['a negative token id', { prompt: { tokens: [1, -5] } }, 'input.prompt'],
  ['an empty model', { model: ' ' }, 'input.model'],
  ['streamOptions on a mutation', { streamOptions: { includeUsage: true } }, 'input.streamOptions'],
];

const accepted: [name: string, overrides: Record<string, unknown>][] = [
  ['temperature 0 and 2', { temperature: 2 }],
  ['temperature 0', { temperature: 0 }],
  ['topP 0 and 1', { topP: 1 }],
  ['n 1 and 128', { n: 128, bestOf: undefined }],
  ['logprobs 0 and 5', { logprobs: 5 }],
  ['bestOf 20 with n 20', { n: 20, bestOf: 20 }],
  ['four stop sequences', { stop: ['a', 'b', 'c', 'd'] }],
  ['penalties at ±2', { presencePenalty: -2, frequencyPenalty: 2 }],
  [
    'logit bias at ±100',
    {
      logitBias: [
        { token: 50256, bias: -100 },
        { token: 198, bias: 100 },
      ],
    },
  ],
  ['maxTokens 0 with echo', { maxTokens: 0, echo: true }],
  ['a token prompt', { prompt: { tokens: [1212, 318, 257, 1332, 13] } }],
  ['token batches', { prompt: { tokenBatches: [[1212, 318], [257]] } }],
  ['several texts', { prompt: { texts: ['a', 'b'] } }],
];

describe('refused before any upstream call', () => {
  it.each(refused)('%s', async (_name, overrides, argument) => {
    const before = stub.hits();
    const { status, json } = await app.post(createCompletion, { input: { ...base, ...overrides } });
    // Refused before execution: 400 under application/graphql-response+json, no data at all.
    expect(status).toBe(400);
    expect(json.data).toBeUndefined();
    expect(json.errors).toHaveLength(1);
    expect(json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(json.errors[0].extensions.argument).toBe(argument);
    expect(json.errors[0].message).toContain(argument);
    expect(stub.hits() - before).toBe(0);
  });

  it('a legacy application/json client gets the same refusal with status 200', async () => {
    const before = stub.hits();
    const response = await fetch(app.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ query: createCompletion, variables: { input: { ...base, temperature: 3 } } }),
    });
    expect(response.status).toBe(200);
    expect((await response.json()).errors[0].extensions).toEqual({
      code: 'BAD_USER_INPUT',
      argument: 'input.temperature',
      param: 'temperature',
    });
    expect(stub.hits() - before).toBe(0);
  });

  it('the same document with valid variables right after a refusal runs (no cached refusal)', async () => {
    const refusal = await app.post(createCompletion, { input: { ...base, temperature: 9 } });
    expect(refusal.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    const { json } = await app.post(createCompletion, { input: { ...base, temperature: 1 } });
    expect(json.errors).toBeUndefined();
    expect(json.data.createCompletion.id).toBe('cmpl-C47L3RG6ICY37W3Q0flVHr4BPTPMS');
  });

  it('a prompt with two forms is refused by the @oneOf rule', async () => {
    const before = stub.hits();
    const { json } = await app.post(createCompletion, {
      input: { ...base, prompt: { text: 'a', texts: ['b'] } },
    });
    expect(json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(json.errors[0].message).toMatch(/exactly one/i);
    expect(stub.hits() - before).toBe(0);
  });

  it('a prompt with no form is refused', async () => {
    const before = stub.hits();
    const { json } = await app.post(createCompletion, { input: { ...base, prompt: {} } });
    expect(json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(stub.hits() - before).toBe(0);
  });

  it('a wrongly typed variable is refused with BAD_USER_INPUT', async () => {
    const before = stub.hits();
    const { status, json } = await app.post(createCompletion, { input: { ...base, temperature: 'hot' } });
    expect(status).toBe(400);
    expect(json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(stub.hits() - before).toBe(0);
  });
});

describe('accepted at the boundary', () => {
  it.each(accepted)('%s', async (_name, overrides) => {
    const before = stub.hits();
    const { json } = await app.post(createCompletion, { input: { ...base, ...overrides } });
    expect(json.errors).toBeUndefined();
    expect(json.data.createCompletion.id).toBe('cmpl-C47L3RG6ICY37W3Q0flVHr4BPTPMS');
    expect(stub.hits() - before).toBe(1);
  });

  it('sends logit bias as the upstream map and token batches as nested arrays', async () => {
    await app.post(createCompletion, {
      input: {
        ...base,
        prompt: { tokenBatches: [[1, 2], [3]] },
        logitBias: [{ token: 50256, bias: -100 }],
        seed: 42,
        user: 'u-1',
      },
    });
    expect(stub.requests.at(-1)?.json).toEqual({
      model: 'gpt-3.5-turbo-instruct',
      prompt: [[1, 2], [3]],
      // No maxTokens given: the server's default is sent, so the price and the call agree.
      max_tokens: 16,
      logit_bias: { '50256': -100 },
      seed: 42,
      user: 'u-1',
      stream: false,
    });
  });
});
