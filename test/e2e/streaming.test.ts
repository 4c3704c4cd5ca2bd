import { Agent, type Dispatcher } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sseClient, wsClient } from '../helpers/clients.js';
import { completionStream } from '../helpers/operations.js';
import { recorded } from '../helpers/recorded.js';
import { reply, type StubUpstream } from '../helpers/stub-upstream.js';
import { type StubbedApp, startStubbedApp, stopStubbedApp, type TestApp } from '../helpers/test-app.js';

/** Subscriptions over SSE (both graphql-sse modes) and WebSocket, against recorded upstream streams. */

let stub: StubUpstream;
let app: TestApp;

/** Called after the app's upstream client has taken in a piece of a response body. */
let onUpstreamBodyPiece: (() => void) | undefined;

/**
 * The app's upstream connection pool, tapped so a test can wait until the service has received a
 * piece of a body before the stub sends the next: two network reads for sure, whatever the load.
 */
const tappedDispatcher = new Agent().compose(
  (dispatch) => (options, handler) => dispatch(options, tapBodyPieces(handler)),
);

function tapBodyPieces(handler: Dispatcher.DispatchHandler): Dispatcher.DispatchHandler {
  return new Proxy(handler, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key, target);
      if (typeof value !== 'function') return value;
      if (key !== 'onData' && key !== 'onResponseData') return value.bind(target);
      return (...args: unknown[]) => {
        const result: unknown = value.apply(target, args);
        onUpstreamBodyPiece?.();
        return result;
      };
    },
  });
}

beforeAll(async () => {
  ({ stub, app } = await startStubbedApp({
    upstream: {
      stream: { firstByteMs: 400, idleMs: 300, totalMs: 5_000 },
      dispatcher: tappedDispatcher,
    },
  }));
});

afterAll(async () => {
  await stopStubbedApp({ stub, app });
  await tappedDispatcher.close();
});

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

describe('failures on /graphql/stream (graphql-sse): coded events, and the server keeps serving', () => {
  const clients = {
    'distinct connections': () => sseClient(`${app.origin}/graphql/stream`),
    'single connection': () => sseClient(`${app.origin}/graphql/stream`, true),
  };

  it.each(Object.entries(clients))('%s: an error mid-stream is the last event', async (_, make) => {
    const first = recorded('openai-stream-basic.sse').split('\n\n')[0];
    stub.on(
      'POST',
      '/completions',
      reply.sse([
        `${first}\n\n`,
        'data: {"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}\n\n',
      ]),
    );
    const client = make();
    const outcome = await client.run(completionStream, { input });
    await client.dispose();
    const codes = outcome.events.flatMap((e) => e.errors ?? []).map((e) => e.extensions?.code);
    expect(codes).toEqual(['UPSTREAM_UNAVAILABLE']);
    // Still serving: the same request again is answered.
    stub.on(
      'POST',
      '/completions',
      reply.raw(200, recorded('openai-stream-basic.sse'), { 'content-type': 'text/event-stream' }),
    );
    const again = make();
    const served = await again.run(completionStream, { input });
    await again.dispose();
    expect(served.events.filter((e) => e.data?.completionStream).length).toBeGreaterThan(0);
  });

  it.each(Object.entries(clients))('%s: refusals before the call are coded results', async (_, make) => {
    const client = make();
    const refused = await client.run(completionStream, { input: { ...input, bestOf: 2 } });
    const unknown = await client.run(`${completionStream} query Other { __typename }`, { input });
    await client.dispose();
    expect(refused.events.flatMap((e) => e.errors ?? []).map((e) => e.extensions?.code)).toEqual([
      'BAD_USER_INPUT',
    ]);
    expect(JSON.stringify(unknown.events[0]?.errors ?? unknown.error)).toMatch(
      /OPERATION_RESOLUTION_FAILURE|must provide operation name/i,
    );
  });

  it('a document that does not parse is a coded answer, not a 500 with a stack', async () => {
    const response = await fetch(`${app.origin}/graphql/stream`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: 'subscription {' }),
    });
    const text = await response.text();
    expect(response.status).not.toBe(500);
    expect(text).toMatch(/GRAPHQL_PARSE_FAILED/);
    expect(text).not.toMatch(/\bat \w+ \(|file:\/\//);
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

  it('a stream with no finish reason but its usage before [DONE] ends normally (some servers leave it out)', async () => {
    const first = recorded('openai-stream-basic.sse').split('\n\n')[0];
    const usage =
      'data: {"id":"x","object":"text_completion","created":1,"model":"gpt-3.5-turbo-instruct","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}';
    const { codes, events: got } = await failure(
      reply.sse([`${first}\n\n`, `${usage}\n\n`, 'data: [DONE]\n\n']),
    );
    expect(codes).toEqual([]);
    expect(got.filter((e) => e.data?.completionStream)).toHaveLength(1);
  });

  it('text after the usage chunk (which would go unbilled) ends the stream as UPSTREAM_BAD_RESPONSE', async () => {
    const first = recorded('openai-stream-basic.sse').split('\n\n')[0];
    const usage =
      'data: {"id":"x","object":"text_completion","created":1,"model":"gpt-3.5-turbo-instruct","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}';
    const { codes, events: got } = await failure(
      reply.sse([`${first}\n\n`, `${usage}\n\n`, `${first}\n\n`, `${first}\n\n`, 'data: [DONE]\n\n']),
    );
    expect(codes).toEqual(['UPSTREAM_BAD_RESPONSE']);
    expect(got.filter((e) => e.data?.completionStream)).toHaveLength(1);
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

  it('no first byte in time: UPSTREAM_TIMEOUT from the first-byte timeout, not the total one', async () => {
    const { codes, errors } = await failure(reply.hang());
    expect(codes).toEqual(['UPSTREAM_TIMEOUT']);
    // Each timeout names itself: 400 ms first byte here, against 5 s for the whole stream.
    expect(errors[0].message).toBe('The upstream sent nothing for 400 ms.');
  });

  it('a stream that goes silent: UPSTREAM_TIMEOUT after the idle gap', async () => {
    const first = recorded('openai-stream-basic.sse').split('\n\n')[0];
    const { codes, errors, events } = await failure(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`${first}\n\n`);
    });
    expect(events.filter((e) => e.data?.completionStream)).toHaveLength(1);
    expect(codes).toEqual(['UPSTREAM_TIMEOUT']);
    expect(errors[0].message).toBe('The upstream stream was silent for 300 ms.');
  });

  it('repeated final chunks and an empty-choices usage chunk are passed through', async () => {
    const lines = recorded('openai-stream-basic.sse')
      .split('\n\n')
      .filter((l) => l.startsWith('data: {'));
    const final = lines.at(-1) ?? '';
    const usage =
      'data: {"id":"cmpl-x","object":"text_completion","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":6,"total_tokens":9}}';
    // Asked for: without it the service asks the upstream itself and keeps the usage chunk to itself.
    const { errors, events } = await failure(
      reply.sse([...lines, final, usage, 'data: [DONE]'].map((l) => `${l}\n\n`)),
      { input: { ...input, streamOptions: { includeUsage: true } } },
    );
    expect(errors).toEqual([]);
    expect(events.at(-1).data.completionStream.usage.totalTokens).toBe(9);
  });

  it('a character split between two network reads arrives whole', async () => {
    const [first = '', ...rest] = recorded('openai-stream-basic.sse').split('\n\n');
    const whale = Buffer.from(first.replace('"text":"The"', '"text":"🐋 The"'));
    const cut = whale.indexOf(Buffer.from('🐋')) + 2;
    let pieces = 0;
    let firstHalfTaken: () => void = () => {};
    const firstHalfIn = new Promise<void>((resolve) => {
      firstHalfTaken = resolve;
    });
    stub.on('POST', '/completions', async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      onUpstreamBodyPiece = () => {
        pieces++;
        firstHalfTaken();
      };
      res.write(whale.subarray(0, cut));
      await firstHalfIn;
      res.end(Buffer.concat([whale.subarray(cut), Buffer.from(`\n\n${rest.join('\n\n')}`)]));
    });
    const client = sseClient(app.graphqlUrl);
    const { events, error } = await client.run(completionStream, { input });
    await client.dispose();
    onUpstreamBodyPiece = undefined;
    expect(error).toBeUndefined();
    expect(pieces).toBeGreaterThanOrEqual(2);
    expect(events[0].data.completionStream.choices[0].text).toBe('🐋 The');
  });
});

describe('cancellation', () => {
  // Timeouts far beyond the test's own, so the only thing that can close the upstream is the unsubscribe.
  let patient: StubbedApp;

  beforeAll(async () => {
    patient = await startStubbedApp({
      upstream: { stream: { firstByteMs: 600_000, idleMs: 600_000, totalMs: 600_000 } },
    });
  });

  afterAll(async () => {
    patient.app.assertNoSecretLeaked();
    // The stub first: dropping its connections ends the quiet stream the known gap below leaves open.
    await patient.stub.close();
    await patient.app.close();
  });

  const patientTransports = {
    'SSE (graphql-sse, distinct connections)': () => sseClient(patient.app.graphqlUrl),
    'SSE (graphql-sse, single connection)': () => sseClient(`${patient.app.origin}/graphql/stream`, true),
    'WebSocket (graphql-ws)': () => wsClient(patient.app.graphqlUrl),
  };
  const first = recorded('openai-stream-basic.sse').split('\n\n')[0];

  /** Subscribes, unsubscribes at the third event, and resolves once the upstream saw its connection close. */
  async function unsubscribeAtThirdEvent(makeClient: () => ReturnType<typeof sseClient>, pollMs = 5_000) {
    const { stub: upstream } = patient;
    const closed = upstream.closedConnections;
    const client = makeClient();
    let received = 0;
    let unsubscribed = false;
    // Set when the stream ended by itself before the unsubscribe: then nothing would be proven.
    let endedEarly: string | undefined;
    await new Promise<void>((resolve) => {
      const unsubscribe = client.subscribe(
        completionStream,
        { input },
        {
          next: () => {
            received++;
            if (received === 3) {
              unsubscribed = true;
              unsubscribe();
              resolve();
            }
          },
          error: (error) => {
            if (!unsubscribed) endedEarly = `error: ${String(error)}`;
            resolve();
          },
          complete: () => {
            if (!unsubscribed) endedEarly = 'complete';
            resolve();
          },
        },
      );
    });
    expect(endedEarly).toBeUndefined();
    expect(received).toBe(3);
    await expect.poll(() => upstream.closedConnections, { timeout: pollMs, interval: 5 }).toBe(closed + 1);
    await client.dispose();
  }

  it.each(Object.entries(patientTransports))(
    '%s: unsubscribing closes the upstream connection of a flowing stream',
    async (_name, makeClient) => {
      patient.stub.on('POST', '/completions', async (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const timer = setInterval(() => res.write(`${first}\n\n`), 20);
        res.on('close', () => clearInterval(timer));
      });
      await unsubscribeAtThirdEvent(makeClient);
    },
  );

  const silentAfterThree = () =>
    patient.stub.on('POST', '/completions', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`${first}\n\n${first}\n\n${first}\n\n`);
    });

  it.each(Object.entries(patientTransports))(
    '%s: unsubscribing closes the upstream connection of a stream that has gone quiet',
    async (_name, makeClient) => {
      silentAfterThree();
      await unsubscribeAtThirdEvent(makeClient);
    },
  );
});
