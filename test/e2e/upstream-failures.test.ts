import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { completionStream, createCompletion } from '../helpers/operations.js';
import { recorded, recordedJson } from '../helpers/recorded.js';
import { canaryKey, reply, type StubUpstream } from '../helpers/stub-upstream.js';
import { startStubbedApp, stopStubbedApp, type TestApp } from '../helpers/test-app.js';

/** Each way the upstream can fail: the code the client gets and exactly how many attempts were made. */

let stub: StubUpstream;
let app: TestApp;
const timeoutMs = 600;

beforeAll(async () => {
  ({ stub, app } = await startStubbedApp({
    upstream: { timeoutMs, maxRetries: 2, maxResponseBytes: 4096 },
  }));
});

afterAll(() => stopStubbedApp({ stub, app }));

let before = 0;
beforeEach(() => {
  before = stub.hits('/completions');
});
const attempts = () => stub.hits('/completions') - before;

const input = { model: 'gpt-3.5-turbo-instruct', prompt: { text: 'Say this is a test' } };
const ok = () => reply.recorded('openai-nonstream-basic.json');
const envelope = (message: string, code: string | null = null, param: string | null = null) => ({
  error: { message, type: 'invalid_request_error', param, code },
});

async function complete() {
  const started = Date.now();
  const response = await app.post(createCompletion, { input });
  return { ...response, elapsed: Date.now() - started, error: response.json?.errors?.[0] };
}

describe('statuses', () => {
  it('400 is the client’s to fix: BAD_USER_INPUT with the upstream param, 1 attempt', async () => {
    stub.on(
      'POST',
      '/completions',
      reply.json(400, envelope("This model's maximum context length is 4097 tokens", null, 'max_tokens'), {
        'x-request-id': 'req_400',
      }),
    );
    const { error } = await complete();
    expect(error.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      param: 'max_tokens',
      argument: 'input.maxTokens',
      upstreamRequestId: 'req_400',
    });
    expect(error.message).toContain('maximum context length');
    expect(attempts()).toBe(1);
  });

  it('a 400 message that quotes a key has it removed', async () => {
    stub.on(
      'POST',
      '/completions',
      reply.json(400, envelope(`Bad header Bearer ${canaryKey} and sk-proj-abcdef123456`)),
    );
    const { error } = await complete();
    expect(error.extensions.code).toBe('BAD_USER_INPUT');
    expect(error.message).not.toContain('sk-');
    expect(error.message).toContain('[redacted]');
  });

  it.each([
    ['a key in it', `up-${canaryKey}`],
    ['a Bearer header in it', `up-Bearer ${canaryKey}`],
    ['unsafe characters', 'req<script>'],
    ['300 characters', 'r'.repeat(300)],
  ])('an upstream request id with %s is not passed on', async (_, id) => {
    stub.on(
      'POST',
      '/completions',
      reply.json(400, envelope('bad', null, 'max_tokens'), { 'x-request-id': id }),
    );
    const { error, json } = await complete();
    expect(error.extensions.code).toBe('BAD_USER_INPUT');
    expect(error.extensions.upstreamRequestId).toBeUndefined();
    expect(JSON.stringify(json)).not.toContain(canaryKey);
  });

  it('401 and 403 are our misconfiguration: INTERNAL_SERVER_ERROR, 1 attempt, no upstream text', async () => {
    for (const status of [401, 403]) {
      const start = stub.hits('/completions');
      stub.on(
        'POST',
        '/completions',
        reply.raw(status, recorded('openai-error-401-invalid-api-key.json'), {
          'content-type': 'application/json',
        }),
      );
      const { error, text } = await complete();
      expect(error.extensions.code).toBe('INTERNAL_SERVER_ERROR');
      expect(text).not.toMatch(/Incorrect API key|sk-wrong/);
      expect(stub.hits('/completions') - start).toBe(1);
    }
  });

  it('a 404 HTML page (wrong base URL) is our misconfiguration, not the client’s', async () => {
    stub.on(
      'POST',
      '/completions',
      reply.raw(404, '<html>Not Found</html>', { 'content-type': 'text/html' }),
    );
    const { error } = await complete();
    expect(error.extensions.code).toBe('INTERNAL_SERVER_ERROR');
  });

  it('500 may have billed: UPSTREAM_UNAVAILABLE after 1 attempt', async () => {
    stub.on(
      'POST',
      '/completions',
      reply.json(500, {
        error: { message: 'The server had an error', type: 'server_error', param: null, code: null },
      }),
    );
    const { error } = await complete();
    expect(error.extensions.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(attempts()).toBe(1);
  });

  it.each([502, 503, 504])('%i is retried: 3 attempts, then UPSTREAM_UNAVAILABLE', async (status) => {
    stub.on(
      'POST',
      '/completions',
      reply.json(status, { error: { message: 'overloaded', type: 'server_error', param: null, code: null } }),
    );
    const { error } = await complete();
    expect(error.extensions.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(attempts()).toBe(3);
  });

  it('503 then 200: the retry succeeds', async () => {
    stub.on('POST', '/completions', reply.json(503, {}), ok());
    const { json } = await complete();
    expect(json.data.createCompletion.id).toBe('cmpl-C47L3RG6ICY37W3Q0flVHr4BPTPMS');
    expect(attempts()).toBe(2);
  });

  it('429 with retry-after-ms is retried after the wait asked for', async () => {
    stub.on(
      'POST',
      '/completions',
      reply.raw(429, recorded('openai-error-429-rate-limit.json'), {
        'content-type': 'application/json',
        'retry-after-ms': '150',
      }),
      ok(),
    );
    const { json, elapsed } = await complete();
    expect(json.data.createCompletion.choices).toHaveLength(1);
    expect(attempts()).toBe(2);
    expect(elapsed).toBeGreaterThanOrEqual(140);
  });

  it('429 three times: UPSTREAM_RATE_LIMITED with retryAfter, 3 attempts', async () => {
    stub.on(
      'POST',
      '/completions',
      reply.raw(429, recorded('openai-error-429-rate-limit.json'), {
        'content-type': 'application/json',
        'retry-after': '0',
      }),
    );
    const { error } = await complete();
    expect(error.extensions).toMatchObject({ code: 'UPSTREAM_RATE_LIMITED' });
    expect(attempts()).toBe(3);
  });

  it('429 insufficient_quota is not retried', async () => {
    stub.on(
      'POST',
      '/completions',
      reply.json(429, {
        error: {
          message: 'You exceeded your current quota',
          type: 'insufficient_quota',
          param: null,
          code: 'insufficient_quota',
        },
      }),
    );
    const { error } = await complete();
    expect(error.extensions.code).toBe('UPSTREAM_RATE_LIMITED');
    expect(error.extensions.retryAfter).toBeUndefined();
    expect(attempts()).toBe(1);
  });
});

describe('connections and bodies', () => {
  it('reset before headers is retried: 3 attempts, then UPSTREAM_UNAVAILABLE', async () => {
    stub.on('POST', '/completions', reply.resetBeforeHeaders());
    const { error } = await complete();
    expect(error.extensions.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(attempts()).toBe(3);
  });

  it('reset before headers once, then 200', async () => {
    stub.on('POST', '/completions', reply.resetBeforeHeaders(), ok());
    const { json } = await complete();
    expect(json.data.createCompletion.id).toBeTruthy();
    expect(attempts()).toBe(2);
  });

  it('reset mid-body is not retried (the upstream may have billed)', async () => {
    stub.on('POST', '/completions', reply.resetMidBody('{"id":"cmpl-1","object":"text_'));
    const { error } = await complete();
    expect(['UPSTREAM_UNAVAILABLE', 'UPSTREAM_BAD_RESPONSE']).toContain(error.extensions.code);
    expect(attempts()).toBe(1);
  });

  it('a truncated body (the connection ends before content-length): not retried, coded', async () => {
    stub.on('POST', '/completions', (_req, res) => {
      const body = recorded('openai-nonstream-basic.json');
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) });
      res.write(body.slice(0, 100));
      res.socket?.end();
    });
    const { error } = await complete();
    // Not UPSTREAM_TIMEOUT: the cut is noticed at once, not when the deadline passes.
    expect(['UPSTREAM_BAD_RESPONSE', 'UPSTREAM_UNAVAILABLE']).toContain(error.extensions.code);
    expect(attempts()).toBe(1);
  });

  it.each([
    ['declared (content-length)', true],
    ['chunked (no length given)', false],
  ])(
    'an answer past maxResponseBytes (4 KiB), %s: UPSTREAM_BAD_RESPONSE, not read into memory',
    async (_, declared) => {
      const text = 'x'.repeat(8 * 1024);
      const body = JSON.stringify({
        ...(recordedJson('openai-nonstream-basic.json') as object),
        padding: text,
      });
      stub.on('POST', '/completions', (_req, res) => {
        res.writeHead(200, {
          'content-type': 'application/json',
          ...(declared ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
        });
        res.end(body);
      });
      const { error, json } = await complete();
      expect(json?.data).toBeNull();
      expect(error.extensions.code).toBe('UPSTREAM_BAD_RESPONSE');
      expect(error.message).toMatch(/larger than 4096 bytes/);
      expect(attempts()).toBe(1);
    },
  );

  it('an answer just under maxResponseBytes, with its length declared, is read whole', async () => {
    const base = JSON.stringify(recordedJson('openai-nonstream-basic.json'));
    const body = `${base.slice(0, -1)},"padding":"${'x'.repeat(4096 - base.length - 14)}"}`;
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(4096);
    stub.on('POST', '/completions', reply.raw(200, body, { 'content-type': 'application/json' }));
    const { error, json } = await complete();
    expect(error).toBeUndefined();
    expect(json?.data?.createCompletion?.choices?.[0]?.text).toEqual(expect.any(String));
  });

  it.each([
    [
      'malformed JSON',
      reply.raw(200, '{"id": "cmpl-1", "choices": [', { 'content-type': 'application/json' }),
    ],
    ['text/plain', reply.raw(200, 'Hello!', { 'content-type': 'text/plain' })],
    ['no content type', reply.raw(200, '{}', {})],
    ['an empty body', reply.raw(200, '', { 'content-type': 'application/json' })],
    ['missing choices', reply.json(200, { id: 'cmpl-1', object: 'text_completion', created: 1, model: 'm' })],
    [
      'a choice without text',
      reply.json(200, {
        id: 'cmpl-1',
        object: 'text_completion',
        created: 1,
        model: 'm',
        choices: [{ index: 0, finish_reason: 'stop' }],
      }),
    ],
    ['a missing id', reply.json(200, { object: 'text_completion', created: 1, model: 'm', choices: [] })],
    ['a JSON array', reply.json(200, [])],
    [
      'a body over the size cap',
      reply.json(200, {
        ...(recordedJson('openai-nonstream-basic.json') as object),
        padding: 'x'.repeat(5000),
      }),
    ],
  ])('%s: UPSTREAM_BAD_RESPONSE, 1 attempt', async (_name, handler) => {
    stub.on('POST', '/completions', handler);
    const { error, json } = await complete();
    expect(json.data).toBeNull();
    expect(error.extensions.code).toBe('UPSTREAM_BAD_RESPONSE');
    expect(attempts()).toBe(1);
  });
});

describe('streams past the size caps (UPSTREAM_MAX_RESPONSE_BYTES, the SSE line cap)', () => {
  const streamEvent = (i: number) =>
    `data: ${JSON.stringify({ id: 'cmpl-s', object: 'text_completion', created: 1, model: 'm', choices: [{ text: `piece ${i}`, index: 0, logprobs: null, finish_reason: null }] })}\n\n`;

  async function streamOutcome() {
    const response = await request(app.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: completionStream, variables: { input } }),
    });
    return response.body.text();
  }

  it.each([
    ['more bytes in all than the cap, in small events', Array.from({ length: 60 }, (_, i) => streamEvent(i))],
    ['one line longer than the cap, never ended', [streamEvent(0), `data: ${'x'.repeat(10_000)}`]],
  ])('%s: UPSTREAM_BAD_RESPONSE, the upstream connection closed', async (_name, pieces) => {
    const closed = stub.closedConnections;
    // The upstream sends, then keeps the connection open: only the service can close it.
    stub.on('POST', '/completions', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const piece of pieces) res.write(piece);
    });
    const text = await streamOutcome();
    expect(text).toContain('UPSTREAM_BAD_RESPONSE');
    expect(text).not.toContain('x'.repeat(100));
    expect(attempts()).toBe(1);
    await expect.poll(() => stub.closedConnections, { timeout: 5_000 }).toBe(closed + 1);
  });
});

describe('what compatible servers send', () => {
  it('ignores extra fields, derives missing counts, keeps invented finish reasons', async () => {
    stub.on(
      'POST',
      '/completions',
      reply.json(200, {
        id: 'cmpl-vllm',
        object: 'text_completion',
        created: 1755097557,
        model: 'meta-llama/Llama-3-8B',
        choices: [
          {
            index: 0,
            text: 'a',
            logprobs: null,
            finish_reason: 'abort',
            stop_reason: null,
            prompt_logprobs: null,
          },
          { index: 1, text: 'b', finish_reason: 'length' },
        ],
        usage: { prompt_tokens: 5, total_tokens: 5 },
        service_tier: 'default',
      }),
    );
    const { json } = await complete();
    const completion = json.data.createCompletion;
    expect(completion.choices[0]).toMatchObject({ finishReason: 'OTHER', finishReasonRaw: 'abort' });
    expect(completion.choices[1]).toMatchObject({ finishReason: 'LENGTH', logprobs: null });
    expect(completion.usage).toMatchObject({ promptTokens: 5, completionTokens: 0, totalTokens: 5 });
  });

  it('maps logprobs with a null first token and sorts top logprobs', async () => {
    stub.on(
      'POST',
      '/completions',
      reply.json(200, {
        id: 'cmpl-lp',
        object: 'text_completion',
        created: 1,
        model: 'davinci-002',
        choices: [
          {
            index: 0,
            text: 'Hi there',
            finish_reason: 'length',
            logprobs: {
              tokens: ['Hi', ' there'],
              token_logprobs: [null, -0.5],
              top_logprobs: [null, { ' here': -2.5, ' there': -0.5, ' you': -1.25 }],
              text_offset: [0, 2],
            },
          },
        ],
      }),
    );
    const { json } = await complete();
    expect(json.data.createCompletion.choices[0].logprobs).toEqual({
      tokens: ['Hi', ' there'],
      tokenLogprobs: [null, -0.5],
      textOffset: [0, 2],
      topLogprobs: [
        null,
        [
          { token: ' there', logprob: -0.5 },
          { token: ' you', logprob: -1.25 },
          { token: ' here', logprob: -2.5 },
        ],
      ],
    });
  });
});

describe('deadline and cancellation', () => {
  it('an upstream that never answers: UPSTREAM_TIMEOUT within the deadline, 1 attempt, connection closed', async () => {
    const closed = stub.closedConnections;
    stub.on('POST', '/completions', reply.hang());
    const { error } = await complete();
    expect(error.extensions.code).toBe('UPSTREAM_TIMEOUT');
    expect(error.message).toContain(`within ${timeoutMs} ms`);
    expect(attempts()).toBe(1);
    await expect.poll(() => stub.closedConnections, { timeout: 1000 }).toBe(closed + 1);
  });

  it('a client that disconnects cancels the upstream request', async () => {
    // A deadline far beyond the polls below: the connection can only close because of the abort.
    const slow = await startStubbedApp({ upstream: { timeoutMs: 600_000 } });
    try {
      await cancels(slow);
    } finally {
      await stopStubbedApp(slow);
    }
  });
});

async function cancels({ stub, app }: { stub: StubUpstream; app: TestApp }) {
  const attempts = () => stub.hits('/completions');
  const closed = stub.closedConnections;
  stub.on('POST', '/completions', reply.hang());
  const controller = new AbortController();
  const pending = fetch(app.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: createCompletion, variables: { input } }),
    signal: controller.signal,
  }).catch(() => 'aborted');
  await expect.poll(() => attempts(), { timeout: 5_000 }).toBe(1);
  controller.abort();
  expect(await pending).toBe('aborted');
  await expect.poll(() => stub.closedConnections, { timeout: 5_000, interval: 5 }).toBe(closed + 1);
}
