import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompletion } from '../helpers/operations.js';
import { recorded, recordedJson } from '../helpers/recorded.js';
import { canaryKey, reply, type StubUpstream } from '../helpers/stub-upstream.js';
import { startStubbedApp, stopStubbedApp, type TestApp } from '../helpers/test-app.js';

/** Every recorded upstream body, replayed over real HTTP and mapped end to end. */

let stub: StubUpstream;
let app: TestApp;

beforeAll(async () => {
  ({ stub, app } = await startStubbedApp({ upstream: { maxRetries: 0 } }));
});

afterAll(() => stopStubbedApp({ stub, app }));

const input = {
  model: 'gpt-3.5-turbo-instruct',
  prompt: { text: 'Who won the 2019 NBA Finals?' },
  maxTokens: 16,
};

describe('recorded non-streamed bodies', () => {
  it('maps openai-nonstream-basic.json field by field', async () => {
    stub.on(
      'POST',
      '/completions',
      reply.recorded('openai-nonstream-basic.json', { 'x-request-id': 'req_abc' }),
    );
    const { status, json } = await app.post(createCompletion, { input });
    expect(status).toBe(200);
    expect(json.errors).toBeUndefined();
    expect(json.data.createCompletion).toEqual({
      id: 'cmpl-C47L3RG6ICY37W3Q0flVHr4BPTPMS',
      object: 'text_completion',
      created: 1755097557,
      createdAt: '2025-08-13T15:05:57.000Z',
      model: 'gpt-3.5-turbo-instruct:20230824-v2',
      systemFingerprint: null,
      choices: [
        {
          text: '\n\nThe Toronto Raptors won the 2019 NBA Finals.',
          index: 0,
          finishReason: 'STOP',
          finishReasonRaw: 'stop',
          logprobs: null,
        },
      ],
      usage: {
        promptTokens: 10,
        completionTokens: 12,
        totalTokens: 22,
        promptTokensDetails: null,
        completionTokensDetails: null,
      },
    });
    // What the upstream received: the server's key, snake_case parameters, no stream.
    const sent = stub.requests.at(-1);
    expect(sent?.headers.authorization).toBe(`Bearer ${canaryKey}`);
    expect(sent?.json).toEqual({
      model: 'gpt-3.5-turbo-instruct',
      prompt: 'Who won the 2019 NBA Finals?',
      max_tokens: 16,
      stream: false,
    });
  });

  it('maps openai-nonstream-prompt-array.json: two prompts, one LENGTH and one STOP', async () => {
    stub.on('POST', '/completions', reply.recorded('openai-nonstream-prompt-array.json'));
    const { json } = await app.post(createCompletion, {
      input: {
        model: 'gpt-3.5-turbo-instruct',
        prompt: { texts: ['Tips for teaching a baby languages', 'Spongebob road test'] },
        maxTokens: 256,
        n: 1,
      },
    });
    const completion = json.data.createCompletion;
    expect(
      completion.choices.map((c: { index: number; finishReason: string }) => [c.index, c.finishReason]),
    ).toEqual([
      [0, 'LENGTH'],
      [1, 'STOP'],
    ]);
    expect(completion.choices[1].text).toBe('\nSpongebob has failed his road test a total of 47 times. ');
    expect(completion.usage).toMatchObject({ promptTokens: 23, completionTokens: 273, totalTokens: 296 });
    expect(stub.requests.at(-1)?.json).toMatchObject({
      prompt: ['Tips for teaching a baby languages', 'Spongebob road test'],
      n: 1,
    });
  });

  it('maps the spec example with system_fingerprint and a length finish', async () => {
    const body = recordedJson('openai-nonstream-basic.json') as Record<string, unknown>;
    stub.on('POST', '/completions', reply.json(200, { ...body, system_fingerprint: 'fp_44709d6fcb' }));
    const { json } = await app.post(createCompletion, { input });
    expect(json.data.createCompletion.systemFingerprint).toBe('fp_44709d6fcb');
  });
});

describe('recorded error bodies', () => {
  it('401 invalid key: INTERNAL_SERVER_ERROR, one attempt, and the echoed key fragment never reaches the client', async () => {
    const before = stub.hits('/completions');
    stub.on(
      'POST',
      '/completions',
      reply.raw(401, recorded('openai-error-401-invalid-api-key.json'), {
        'content-type': 'application/json; charset=utf-8',
        'x-request-id': 'req_401',
      }),
    );
    const { status, json, text } = await app.post(createCompletion, { input });
    expect(status).toBe(200);
    expect(json.data).toBeNull();
    expect(json.errors[0].extensions).toMatchObject({
      code: 'INTERNAL_SERVER_ERROR',
      upstreamRequestId: 'req_401',
    });
    expect(text).not.toContain('sk-wrong');
    expect(text).not.toContain('Incorrect API key');
    expect(stub.hits('/completions') - before).toBe(1);
  });

  it('404 model not found: BAD_USER_INPUT naming input.model, one attempt', async () => {
    const before = stub.hits('/completions');
    stub.on(
      'POST',
      '/completions',
      reply.raw(404, recorded('openai-error-404-model-not-found.json'), {
        'content-type': 'application/json',
      }),
    );
    const { json } = await app.post(createCompletion, {
      input: { ...input, model: 'this-model-does-not-exist' },
    });
    expect(json.errors[0].message).toContain('this-model-does-not-exist');
    expect(json.errors[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      argument: 'input.model',
      param: 'model',
      upstreamCode: 'model_not_found',
    });
    expect(stub.hits('/completions') - before).toBe(1);
  });

  it('429 rate limit with retry-after: UPSTREAM_RATE_LIMITED with retryAfter when the wait is too long to retry', async () => {
    const before = stub.hits('/completions');
    stub.on(
      'POST',
      '/completions',
      reply.raw(429, recorded('openai-error-429-rate-limit.json'), {
        'content-type': 'application/json',
        'retry-after': '20',
      }),
    );
    const { json } = await app.post(createCompletion, { input });
    expect(json.errors[0].extensions).toMatchObject({ code: 'UPSTREAM_RATE_LIMITED', retryAfter: 20 });
    // 20 s does not fit in the 5 s deadline: no retry is attempted.
    expect(stub.hits('/completions') - before).toBe(1);
    expect(json.errors[0].message).not.toContain('org-C92hO32J0AGzGOmHi6JKDVk2');
  });
});
