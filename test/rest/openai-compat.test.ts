import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertWithinCeilings } from '../../src/completions/operation-limits.js';
import { prepareFromWire } from '../../src/completions/prepare.js';
import { createCompletionsService } from '../../src/completions/service.js';
import { createClientBudget } from '../../src/limits/client-budget.js';
import { createMemoryRateLimiter } from '../../src/limits/index.js';
import { createOpenAiCompatHandler } from '../../src/rest/openai-compat.js';
import { UpstreamRateLimitError, UpstreamTimeoutError } from '../../src/upstream/errors.js';
import type { CompletionsProvider } from '../../src/upstream/provider.js';
import type { WireCompletionRequest, WireCompletionResponse } from '../../src/upstream/wire.js';
import { localProvider } from '../local/shared-provider.js';

/** The REST handler over the real use case (budgets, preparation, ceilings), without the rest of the app. */
async function serve(provider: CompletionsProvider): Promise<{ server: Server; base: string }> {
  const completions = createCompletionsService({
    provider,
    budget: createClientBudget({
      limiter: createMemoryRateLimiter(),
      policy: { requestsPerMinute: 0, tokensPerMinute: 0 },
    }),
  });
  const handler = createOpenAiCompatHandler({
    completions,
    listModels: () => provider.listModels(),
    prepare: (request) => {
      const call = prepareFromWire(request);
      assertWithinCeilings([call], { maxCompletions: 1, maxEstimatedTokens: 16_384 });
      return call;
    },
  });
  const server = createServer((req, res) => {
    void Promise.resolve(handler(req, res)).then((handled) => {
      if (!handled) res.writeHead(404, { 'content-type': 'text/plain' }).end('fell through');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function post(
  base: string,
  body: unknown,
  headers: Record<string, string> = { 'content-type': 'application/json' },
) {
  return fetch(`${base}/v1/completions`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

let base: string;
let server: Server;
let modelId: string;

beforeAll(async () => {
  const provider = await localProvider();
  modelId = provider.modelId;
  ({ server, base } = await serve(provider));
});
afterAll(() => {
  server.close();
});

describe('OpenAI-compatible REST face (fetch)', () => {
  it('answers a completion as JSON', async () => {
    const res = await post(base, { model: modelId, prompt: 'Call me', max_tokens: 4, seed: 1 });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as WireCompletionResponse;
    expect(body).toMatchObject({
      object: 'text_completion',
      model: modelId,
      usage: { completion_tokens: 4 },
    });
    expect(body.choices[0]?.finish_reason).toBe('length');
  });

  it('streams server-sent events ending with [DONE]', async () => {
    const res = await post(base, {
      model: modelId,
      prompt: 'Ahab',
      max_tokens: 5,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await res.text();
    const events = text.split('\n\n').filter((e) => e !== '');
    expect(events.every((e) => e.startsWith('data: '))).toBe(true);
    expect(events.at(-1)).toBe('data: [DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)) as WireCompletionResponse);
    expect(chunks.at(-1)?.usage?.completion_tokens).toBeGreaterThan(0);
    expect(chunks.at(-1)?.choices).toEqual([]);
  });

  it('lists models and gets one by id', async () => {
    const list = await (await fetch(`${base}/v1/models`)).json();
    expect(list).toEqual({
      object: 'list',
      data: [expect.objectContaining({ id: modelId, object: 'model' })],
    });
    const one = await fetch(`${base}/v1/models/${modelId}`);
    expect(await one.json()).toMatchObject({ id: modelId, object: 'model', owned_by: 'local' });
    const missing = await fetch(`${base}/v1/models/gpt-9`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({
      error: { code: 'model_not_found', type: 'invalid_request_error' },
    });
    // HEAD: the same status and headers, no body (Node leaves it out).
    const head = await fetch(`${base}/v1/models/${modelId}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await head.text()).toBe('');
    // A path that does not decode names no model either (it was a 500).
    for (const path of ['%', '%E0%A4%A']) {
      const undecodable = await fetch(`${base}/v1/models/${path}`);
      expect(undecodable.status).toBe(404);
      expect(await undecodable.json()).toMatchObject({ error: { code: 'model_not_found' } });
    }
  });

  it('leaves other URLs to the next handler', async () => {
    const res = await fetch(`${base}/graphql`);
    expect(await res.text()).toBe('fell through');
  });

  it('answers a /v1/ path it does not serve as OpenAI does: 404 with the error envelope', async () => {
    for (const path of ['/v1/chat/completions', '/v1//completions', '/v1/%63ompletions']) {
      const res = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error', code: null } });
    }
  });

  it.each([
    ['invalid JSON', '{"model":', 400, null],
    ['missing prompt', { model: 'local-ngram-moby-dick' }, 400, 'prompt'],
    ['missing model', { prompt: 'x' }, 400, 'model'],
    ['wrong type', { model: 'local-ngram-moby-dick', prompt: 'x', max_tokens: '5' }, 400, 'max_tokens'],
    ['a number out of range', '{"model":"local-ngram-moby-dick","prompt":"x","top_p":1e400}', 400, 'top_p'],
    ['unknown field', { model: 'local-ngram-moby-dick', prompt: 'x', foo: 1 }, 400, 'foo'],
    [
      'validate() violation',
      { model: 'local-ngram-moby-dick', prompt: 'x', temperature: 3 },
      400,
      'temperature',
    ],
    ['engine refusal', { model: 'local-ngram-moby-dick', prompt: 'x', suffix: 'y' }, 400, 'suffix'],
    ['unknown model', { model: 'gpt-9', prompt: 'x' }, 404, 'model'],
    ['a 300-character model name', { model: 'm'.repeat(300), prompt: 'x' }, 400, 'model'],
    [
      'a logit_bias key named __proto__',
      '{"model":"local-ngram-moby-dick","prompt":"x","logit_bias":{"__proto__":5}}',
      400,
      'logit_bias',
    ],
    [
      'refused stream',
      { model: 'local-ngram-moby-dick', prompt: 'x', stream: true, best_of: 2 },
      400,
      'best_of',
    ],
  ])('answers %s with the OpenAI error envelope', async (_name, body, status, param) => {
    const res = await post(base, body);
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const json = (await res.json()) as { error: Record<string, unknown> };
    expect(Object.keys(json.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(json.error).toMatchObject({ type: 'invalid_request_error', param });
    expect(String(json.error.message)).not.toMatch(/\n\s+at /);
  });

  it('refuses a non-JSON content type: 415, as a browser sends it cross-site without a preflight', async () => {
    const res = await post(base, 'model=x', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(res.status).toBe(415);
  });
});

describe('error mapping and disconnects (stub provider)', () => {
  let stub: { server: Server; base: string };
  let aborted: Promise<void>;
  let markAborted: () => void = () => {};
  let seen: WireCompletionRequest | undefined;

  beforeAll(async () => {
    aborted = new Promise((resolve) => {
      markAborted = resolve;
    });
    const provider: CompletionsProvider = {
      name: 'stub',
      async complete(req) {
        if (req.prompt === 'rate') throw new UpstreamRateLimitError('slow down', { retryAfterSeconds: 7 });
        if (req.prompt === 'seen') {
          seen = req;
          return {
            response: { id: 'cmpl-s', object: 'text_completion', created: 0, model: 'm', choices: [] },
          };
        }
        throw new UpstreamTimeoutError('deadline');
      },
      async *stream(_req, options) {
        const signal = options?.signal;
        yield { id: 'cmpl-x', object: 'text_completion', created: 0, model: 'm', choices: [] };
        await new Promise<void>((resolve) => signal?.addEventListener('abort', () => resolve()));
        markAborted();
      },
      async listModels() {
        throw new Error('secret internal detail');
      },
    };
    stub = await serve(provider);
  });
  afterAll(() => {
    stub.server.close();
  });

  it('maps typed errors to statuses, never leaking internals', async () => {
    const rate = await post(stub.base, { model: 'm', prompt: 'rate' });
    expect(rate.status).toBe(429);
    expect(rate.headers.get('retry-after')).toBe('7');
    expect((await post(stub.base, { model: 'm', prompt: 'x' })).status).toBe(504);
    const internal = await fetch(`${stub.base}/v1/models`);
    expect(internal.status).toBe(500);
    expect(await internal.text()).not.toContain('secret');
  });

  it('refuses a body naming `__proto__` before any call, as an argument it does not know', async () => {
    const res = await post(stub.base, '{"model":"m","prompt":"seen","__proto__":{"max_tokens":1,"n":9}}');
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error', param: '__proto__' } });
    expect(seen).toBeUndefined();
    // The same body without it reaches the provider, with the default max_tokens.
    expect((await post(stub.base, { model: 'm', prompt: 'seen' })).status).toBe(200);
    expect(seen?.max_tokens).toBe(16);
  });

  it('aborts the provider call when the client disconnects', async () => {
    const res = await post(stub.base, { model: 'm', prompt: 'x', stream: true });
    const reader = res.body?.getReader();
    await reader?.read();
    await reader?.cancel();
    const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), 2000));
    await expect(Promise.race([aborted.then(() => 'aborted'), timeout])).resolves.toBe('aborted');
  });
});

describe('official openai client', () => {
  it('completes, streams and lists models', async () => {
    const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
    const completion = await client.completions.create({
      model: modelId,
      prompt: 'The whale',
      max_tokens: 5,
      seed: 3,
    });
    expect(completion.choices[0]?.text.length).toBeGreaterThan(0);
    expect(completion.usage?.completion_tokens).toBeLessThanOrEqual(5);

    const stream = await client.completions.create({
      model: modelId,
      prompt: 'The whale',
      max_tokens: 5,
      seed: 3,
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
    expect(text).toBe(completion.choices[0]?.text);

    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual([modelId]);

    const err = await client.completions.create({ model: 'gpt-9', prompt: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
  });
});
