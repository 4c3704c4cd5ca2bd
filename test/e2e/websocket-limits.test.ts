import { once } from 'node:events';
import { GRAPHQL_TRANSPORT_WS_PROTOCOL } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { wsClient } from '../helpers/clients.js';
import { completionStream, createCompletion } from '../helpers/operations.js';
import { recorded } from '../helpers/recorded.js';
import { reply, type StubUpstream } from '../helpers/stub-upstream.js';
import { startStubbedApp, startTestApp, stopStubbedApp, type TestApp } from '../helpers/test-app.js';

/**
 * What an unauthenticated WebSocket peer can make the server do: nothing large is buffered or
 * parsed before connection_ack, a socket that never initialises is closed, and a page from a
 * foreign origin cannot open one at all.
 */

let stub: StubUpstream;
let app: TestApp;
const listed = 'https://app.example';

beforeAll(async () => {
  ({ stub, app } = await startStubbedApp({ app: { corsOrigins: [listed], wsMaxOperationsPerSocket: 1 } }));
});

afterAll(() => stopStubbedApp({ stub, app }));

const input = { model: 'gpt-3.5-turbo-instruct', prompt: { text: 'What is 2 + 2?' }, maxTokens: 7 };
const MiB = 1024 * 1024;

/** A raw graphql-ws socket, so the test decides every byte the server receives. */
function rawSocket(target: TestApp, origin?: string): WebSocket {
  const socket = new WebSocket(target.graphqlUrl.replace(/^http/, 'ws'), GRAPHQL_TRANSPORT_WS_PROTOCOL, {
    ...(origin === undefined ? {} : { origin }),
  });
  // A peer the server cuts off may see a reset while it is still writing; the close event tells.
  socket.on('error', () => {});
  return socket;
}

async function closeOf(socket: WebSocket): Promise<number> {
  const [code] = (await once(socket, 'close')) as [number];
  return code;
}

function initFrame(padBytes: number): string {
  return JSON.stringify({ type: 'connection_init', payload: { pad: 'x'.repeat(padBytes) } });
}

/** Resolves with the status of a refused handshake, or 101 once the socket opens. */
function handshakeStatus(socket: WebSocket): Promise<number> {
  return new Promise((resolve) => {
    socket.once('open', () => {
      socket.close();
      resolve(101);
    });
    socket.once('unexpected-response', (req, res) => {
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
  });
}

describe('WebSocket frame limits', () => {
  it('closes a socket whose first frame is 20 MiB (1009) and keeps serving everyone else', async () => {
    const socket = rawSocket(app);
    await once(socket, 'open');
    const closing = closeOf(socket);
    socket.send(initFrame(20 * MiB));
    expect(await closing).toBe(1009);

    expect((await fetch(`${app.origin}/healthz`)).status).toBe(200);
    stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
    const client = wsClient(app.graphqlUrl);
    const outcome = await client.run(createCompletion, { input });
    await client.dispose();
    expect(outcome.error).toBeUndefined();
    expect(outcome.events[0].data.createCompletion.choices[0].finishReason).toBe('STOP');
  });

  it('closes a 64 KiB frame before connection_ack without answering it', async () => {
    const socket = rawSocket(app);
    await once(socket, 'open');
    const messages: string[] = [];
    socket.on('message', (data) => messages.push(String(data)));
    const closing = closeOf(socket);
    socket.send(initFrame(64 * 1024));
    expect(await closing).toBe(1009);
    expect(messages).toEqual([]);
  });

  it('after connection_ack takes frames up to the body cap, and closes a larger one (1009)', async () => {
    const socket = rawSocket(app);
    await once(socket, 'open');
    const messages: { type: string; id?: string }[] = [];
    socket.on('message', (data) => messages.push(JSON.parse(String(data))));
    socket.send(initFrame(0));
    await expect.poll(() => messages.map((m) => m.type)).toEqual(['connection_ack']);

    stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
    // Variables the operation does not declare are ignored: only the frame's size matters here.
    const payload = { query: createCompletion, variables: { input, pad: 'x'.repeat(64 * 1024) } };
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload }));
    await expect.poll(() => messages.map((m) => m.type)).toEqual(['connection_ack', 'next', 'complete']);

    const closing = closeOf(socket);
    socket.send(JSON.stringify({ id: '2', type: 'subscribe', payload: { query: 'x'.repeat(2 * MiB) } }));
    expect(await closing).toBe(1009);
  });
});

describe('WebSocket operation errors', () => {
  it('answers a syntax error as that operation’s error and keeps the socket open', async () => {
    const socket = rawSocket(app);
    await once(socket, 'open');
    const messages: { type: string; id?: string; payload?: unknown }[] = [];
    socket.on('message', (data) => messages.push(JSON.parse(String(data))));
    socket.send(initFrame(0));
    await expect.poll(() => messages.length).toBe(1);
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ models' } }));
    await expect.poll(() => messages.map((m) => m.type)).toEqual(['connection_ack', 'error']);
    expect(JSON.stringify(messages[1]?.payload)).toContain('GRAPHQL_PARSE_FAILED');
    expect(socket.readyState).toBe(WebSocket.OPEN);
    socket.close();
  });
});

describe('WebSocket connection_init timeout', () => {
  let quick: TestApp;
  const initTimeoutMs = 250;

  beforeAll(async () => {
    quick = await startTestApp({ app: { wsInitTimeoutMs: initTimeoutMs } });
  });

  afterAll(() => quick.close());

  it('closes a socket that sends no connection_init in WS_INIT_TIMEOUT_MS (4408)', async () => {
    // The server's timer is started with the socket: fake it, so no test waits on the clock.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let closing: Promise<number>;
    try {
      const socket = rawSocket(quick);
      closing = closeOf(socket);
      await once(socket, 'open');
      vi.advanceTimersByTime(initTimeoutMs);
    } finally {
      vi.useRealTimers();
    }
    expect(await closing).toBe(4408);
  });
});

describe('WebSocket upgrades and Origin', () => {
  it('refuses an upgrade from a foreign Origin with 403', async () => {
    expect(await handshakeStatus(rawSocket(app, 'https://evil.example'))).toBe(403);
    expect(await handshakeStatus(rawSocket(app, 'null'))).toBe(403);
  });

  it('accepts this server’s own pages, a listed origin and clients that send no Origin', async () => {
    expect(await handshakeStatus(rawSocket(app, app.origin))).toBe(101);
    expect(await handshakeStatus(rawSocket(app, listed))).toBe(101);
    expect(await handshakeStatus(rawSocket(app))).toBe(101);
  });
});

describe('operations per socket', () => {
  it('answers an operation past the per-socket cap with an error, leaving the running one alone', async () => {
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const firstChunk = recorded('openai-stream-basic.sse').split('\n\n')[0];
    stub.on('POST', '/completions', async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`${firstChunk}\n\n`);
      await held;
      res.end('data: [DONE]\n\n');
    });
    const hits = stub.hits('/completions');
    const client = wsClient(app.graphqlUrl);
    const events: unknown[] = [];
    const stop = client.subscribe(
      completionStream,
      { input },
      {
        next: (value) => events.push(value),
        error: () => {},
        complete: () => {},
      },
    );
    await expect.poll(() => events.length).toBe(1);

    const refused = await client.run(createCompletion, { input });
    expect(refused.events).toEqual([]);
    expect(JSON.stringify(refused.error)).toContain('TOO_MANY_OPERATIONS');
    expect(stub.hits('/completions') - hits).toBe(1);

    stop();
    release();
    await client.dispose();
  });
});
