import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sseClient, wsClient } from '../helpers/clients.js';
import { completionStream } from '../helpers/operations.js';
import { recorded } from '../helpers/recorded.js';
import { reply, type StubUpstream } from '../helpers/stub-upstream.js';
import { startStubbedApp, stopStubbedApp, type TestApp } from '../helpers/test-app.js';

/** Subscriptions over SSE (both graphql-sse modes) and WebSocket, against recorded upstream streams. */

let stub: StubUpstream;
let app: TestApp;

beforeAll(async () => {
  ({ stub, app } = await startStubbedApp({
    upstream: { stream: { firstByteMs: 400, idleMs: 300, totalMs: 5_000 } },
  }));
});

afterAll(() => stopStubbedApp({ stub, app }));

let before = 0;
beforeEach(() => {
  before = stub.hits('/completions');
});

const input = { model: 'gpt-3.5-turbo-instruct', prompt: { text: 'What is 2 + 2?' }, maxTokens: 7 };
const usageSse = () =>
  recorded('openai-stream-include-usage.chunks.jsonl')
    .trim()
    .split('\n')
    .map((line) => `data: ${line}\n\n`)
    .concat('data: [DONE]\n\n');

const transports = {
  'SSE (graphql-sse, distinct connections)': () => sseClient(app.graphqlUrl),
  'SSE (graphql-sse, single connection)': () => sseClient(`${app.origin}/graphql/stream`, true),
  'WebSocket (graphql-ws)': () => wsClient(app.graphqlUrl),
};

describe.each(Object.entries(transports))('%s', (_name, makeClient) => {
  it('streams the recorded basic stream event by event', async () => {
    stub.on('POST', '/completions', reply.recorded('openai-stream-basic.sse'));
    const client = makeClient();
    const { events, error } = await client.run(completionStream, { input });
    await client.dispose();
    expect(error).toBeUndefined();
    const chunks = events.map((e) => e.data.completionStream);
    expect(chunks).toHaveLength(7);
    expect(chunks.map((c) => c.choices[0].text).join('')).toBe('The answer is 4.');
    expect(chunks.every((c) => c.id === 'cmpl-C47M0QMQKhvcmN07HzeSZdlYG7oAp' && c.usage === null)).toBe(true);
    expect(chunks.slice(0, -1).every((c) => c.choices[0].finishReason === null)).toBe(true);
    expect(chunks.at(-1).choices[0]).toMatchObject({
      finishReason: 'STOP',
      finishReasonRaw: 'stop',
      text: '',
    });
    expect(stub.requests.at(-1)?.json).toMatchObject({ stream: true, max_tokens: 7 });
  });

  it('ends with a usage event when includeUsage is asked for', async () => {
    stub.on('POST', '/completions', reply.sse(usageSse()));
    const client = makeClient();
    const { events, error } = await client.run(completionStream, {
      input: { ...input, streamOptions: { includeUsage: true } },
    });
    await client.dispose();
    expect(error).toBeUndefined();
    const chunks = events.map((e) => e.data.completionStream);
    expect(chunks.at(-1)).toMatchObject({
      choices: [],
      usage: { promptTokens: 14, completionTokens: 16, totalTokens: 30 },
    });
    expect(chunks.at(-2).choices[0].finishReason).toBe('LENGTH');
    expect(stub.requests.at(-1)?.json).toMatchObject({
      stream: true,
      stream_options: { include_usage: true },
    });
  });
});

describe('stream failures', () => {
  const client = () => sseClient(app.graphqlUrl);

  async function failure(
    handler: Parameters<StubUpstream['on']>[2],
    variables: Record<string, unknown> = { input },
  ) {
    stub.on('POST', '/completions', handler);
    const c = client();
    const outcome = await c.run(completionStream, variables);
    await c.dispose();
    const errors = outcome.events.flatMap((e) => e.errors ?? []);
    return {
      ...outcome,
      errors,
      codes: errors.map((e: { extensions?: { code?: string } }) => e.extensions?.code),
    };
  }

  it('bestOf above 1 is refused before any call', async () => {
    const { codes } = await failure(reply.sse([]), { input: { ...input, bestOf: 2 } });
    expect(codes).toEqual(['BAD_USER_INPUT']);
    expect(stub.hits('/completions') - before).toBe(0);
  });

  it('a stream that ends without [DONE] is UPSTREAM_BAD_RESPONSE, not a silent success', async () => {
    const events = recorded('openai-stream-basic.sse').replace('data: [DONE]\n\n', '');
    const { codes, events: got } = await failure(
      reply.raw(200, events, { 'content-type': 'text/event-stream' }),
    );
    expect(codes).toEqual(['UPSTREAM_BAD_RESPONSE']);
    expect(got.filter((e) => e.data?.completionStream)).toHaveLength(7);
  });

  it('a stream with [DONE] but no finish reason is UPSTREAM_BAD_RESPONSE', async () => {
    const first = recorded('openai-stream-basic.sse').split('\n\n')[0];
    const { codes } = await failure(reply.sse([`${first}\n\n`, 'data: [DONE]\n\n']));
    expect(codes).toEqual(['UPSTREAM_BAD_RESPONSE']);
  });

  it('an error payload mid-stream is mapped with the usual codes', async () => {
    const first = recorded('openai-stream-basic.sse').split('\n\n')[0];
    const { codes } = await failure(
      reply.sse([
        `${first}\n\n`,
        'data: {"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}\n\n',
      ]),
    );
    expect(codes).toEqual(['UPSTREAM_UNAVAILABLE']);
  });

  it('a malformed chunk is UPSTREAM_BAD_RESPONSE', async () => {
    const { codes } = await failure(reply.sse(['data: {"id": "cmpl-1", "choices": [\n\n']));
    expect(codes).toEqual(['UPSTREAM_BAD_RESPONSE']);
  });

  it('no first byte in time: UPSTREAM_TIMEOUT', async () => {
    const started = Date.now();
    const { codes } = await failure(reply.hang());
    expect(codes).toEqual(['UPSTREAM_TIMEOUT']);
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('a stream that goes silent: UPSTREAM_TIMEOUT after the idle gap', async () => {
    const first = recorded('openai-stream-basic.sse').split('\n\n')[0];
    const { codes, events } = await failure(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`${first}\n\n`);
    });
    expect(events.filter((e) => e.data?.completionStream)).toHaveLength(1);
    expect(codes).toEqual(['UPSTREAM_TIMEOUT']);
  });

  it('repeated final chunks and an empty-choices usage chunk are passed through', async () => {
    const lines = recorded('openai-stream-basic.sse')
      .split('\n\n')
      .filter((l) => l.startsWith('data: {'));
    const final = lines.at(-1) ?? '';
    const usage =
      'data: {"id":"cmpl-x","object":"text_completion","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":6,"total_tokens":9}}';
    const { errors, events } = await failure(
      reply.sse([...lines, final, usage, 'data: [DONE]'].map((l) => `${l}\n\n`)),
    );
    expect(errors).toEqual([]);
    expect(events.at(-1).data.completionStream.usage.totalTokens).toBe(9);
  });

  it('a character split between two network reads arrives whole', async () => {
    const [first = '', ...rest] = recorded('openai-stream-basic.sse').split('\n\n');
    const whale = Buffer.from(first.replace('"text":"The"', '"text":"🐋 The"'));
    const cut = whale.indexOf(Buffer.from('🐋')) + 2;
    stub.on('POST', '/completions', async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(whale.subarray(0, cut));
      await new Promise((resolve) => setTimeout(resolve, 30));
      res.end(Buffer.concat([whale.subarray(cut), Buffer.from(`\n\n${rest.join('\n\n')}`)]));
    });
    const client = sseClient(app.graphqlUrl);
    const { events, error } = await client.run(completionStream, { input });
    await client.dispose();
    expect(error).toBeUndefined();
    expect(events[0].data.completionStream.choices[0].text).toBe('🐋 The');
  });
});

describe('cancellation', () => {
  it.each(Object.entries(transports))(
    '%s: unsubscribing closes the upstream connection within 100 ms',
    async (_name, makeClient) => {
      const closed = stub.closedConnections;
      const first = recorded('openai-stream-basic.sse').split('\n\n')[0];
      stub.on('POST', '/completions', async (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const timer = setInterval(() => res.write(`${first}\n\n`), 20);
        res.on('close', () => clearInterval(timer));
      });
      const client = makeClient();
      let received = 0;
      let unsubscribedAt = 0;
      await new Promise<void>((resolve) => {
        const unsubscribe = client.subscribe(
          completionStream,
          { input },
          {
            next: () => {
              received++;
              if (received === 3) {
                unsubscribedAt = performance.now();
                unsubscribe();
                resolve();
              }
            },
            error: () => resolve(),
            complete: () => resolve(),
          },
        );
      });
      await expect.poll(() => stub.closedConnections, { timeout: 1_000, interval: 5 }).toBe(closed + 1);
      expect(stub.lastClosedAt - unsubscribedAt).toBeLessThan(100);
      await client.dispose();
    },
  );
});
