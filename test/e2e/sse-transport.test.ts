import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ClientAuthenticator, hashToken } from '../../src/auth/client-keys.js';
import { sseClient } from '../helpers/clients.js';
import { completionStream, createCompletion } from '../helpers/operations.js';
import { recorded } from '../helpers/recorded.js';
import { reply, type StubUpstream } from '../helpers/stub-upstream.js';
import { startStubbedApp, stopStubbedApp, type TestApp } from '../helpers/test-app.js';

/**
 * GraphQL over SSE on /graphql is served by a route in front of yoga (src/transports/sse.ts) for
 * speed. These tests hold it to yoga's own answers: the same request sent to `/graphql?via=yoga`
 * (a URL the route leaves alone) must give the same status, headers and events.
 */

let stub: StubUpstream;
let app: TestApp;

beforeAll(async () => {
  ({ stub, app } = await startStubbedApp({
    upstream: { stream: { firstByteMs: 400, idleMs: 300 } },
    app: { corsOrigins: ['https://app.example'] },
  }));
});

afterAll(() => stopStubbedApp({ stub, app }));

let hitsBefore = 0;
beforeEach(() => {
  hitsBefore = stub.hits('/completions');
});

const input = { model: 'gpt-3.5-turbo-instruct', prompt: { text: 'What is 2 + 2?' }, maxTokens: 7 };
const firstChunk = recorded('openai-stream-basic.sse').split('\n\n')[0];

interface RawAnswer {
  status: number;
  headers: Headers;
  /** The body without yoga's keep-alive pings, which depend on timing. */
  events: string;
}

async function send(path: string, body: string, headers: Record<string, string> = {}): Promise<RawAnswer> {
  const response = await fetch(`${app.origin}${path}`, {
    method: 'POST',
    // One request id for both ways, so that the answers can be compared byte for byte.
    headers: {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      'x-request-id': 'parity-1',
      ...headers,
    },
    body,
  });
  const text = await response.text();
  app.bodies.push(text);
  const events = text
    .split('\n\n')
    .filter((block) => block !== ':' && block !== '')
    .join('\n\n');
  return { status: response.status, headers: response.headers, events };
}

/** The same request through the route and through yoga. */
async function bothWays(body: string, headers: Record<string, string> = {}) {
  const fast = await send('/graphql', body, headers);
  const yoga = await send('/graphql?via=yoga', body, headers);
  return { fast, yoga };
}

const streamBody = JSON.stringify({ query: completionStream, variables: { input } });

function sameHeaders(a: Headers, b: Headers, names: string[]) {
  for (const name of names) expect([name, a.get(name)]).toEqual([name, b.get(name)]);
}

describe('GraphQL over SSE on /graphql', () => {
  it('streams a completion exactly as yoga does: status, headers, every event', async () => {
    stub.on('POST', '/completions', reply.recorded('openai-stream-basic.sse'));
    const { fast, yoga } = await bothWays(streamBody);
    expect(fast.status).toBe(200);
    sameHeaders(fast.headers, yoga.headers, ['content-type', 'cache-control', 'content-encoding']);
    expect(fast.events).toBe(yoga.events);
    expect(fast.events.match(/^event: next$/gm)).toHaveLength(7);
    expect(fast.events.endsWith('event: complete\ndata:')).toBe(true);
  });

  it('sends the CORS headers yoga sends to a listed origin, and none to a foreign one', async () => {
    stub.on('POST', '/completions', reply.recorded('openai-stream-basic.sse'));
    const cors = ['access-control-allow-origin', 'access-control-allow-credentials', 'vary'];
    const listed = await bothWays(streamBody, { origin: 'https://app.example' });
    expect(listed.fast.headers.get('access-control-allow-origin')).toBe('https://app.example');
    sameHeaders(listed.fast.headers, listed.yoga.headers, cors);
    const foreign = await bothWays(streamBody, { origin: 'https://evil.example' });
    expect(foreign.fast.status).toBe(200);
    expect(foreign.fast.headers.get('access-control-allow-origin')).toBeNull();
    sameHeaders(foreign.fast.headers, foreign.yoga.headers, cors);
  });

  it('ends a stream that fails upstream with the same coded error event as yoga', async () => {
    stub.on('POST', '/completions', async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(
        `${firstChunk}\n\ndata: {"error":{"message":"overloaded","type":"server_error","code":503}}\n\n`,
      );
    });
    const { fast, yoga } = await bothWays(streamBody);
    expect(fast.events).toBe(yoga.events);
    expect(fast.events).toContain('"code":"UPSTREAM_UNAVAILABLE"');
  });

  it('answers every refusal as yoga does: same status and body, and no upstream call', async () => {
    const refusals = [
      JSON.stringify({ query: completionStream, variables: { input: { ...input, bestOf: 2 } } }),
      JSON.stringify({ query: completionStream, variables: { input: { ...input, model: 7 } } }),
      JSON.stringify({ query: 'subscription { completionStream(' }),
      JSON.stringify({ query: 'subscription { nope }' }),
      JSON.stringify({ query: completionStream, variables: ['not', 'an', 'object'] }),
      JSON.stringify({ query: completionStream, variables: { input }, extensions: 'nope' }),
      '{"query": ',
      '[]',
    ];
    for (const body of refusals) {
      const { fast, yoga } = await bothWays(body);
      expect([body, fast.status]).toEqual([body, yoga.status]);
      expect(fast.events).toBe(yoga.events);
      expect(fast.events).toMatch(/"code":"[A-Z_]+"/);
    }
    expect(stub.hits('/completions')).toBe(hitsBefore);
  });

  it('hands operations other than subscriptions to yoga', async () => {
    stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
    const body = JSON.stringify({ query: createCompletion, variables: { input } });
    const { fast, yoga } = await bothWays(body);
    expect(fast.status).toBe(200);
    expect(fast.events).toBe(yoga.events);
    expect(fast.events).toContain('"createCompletion"');
  });

  it('a client that leaves before the first event closes the waiting upstream request', async () => {
    // Its own app, whose upstream deadlines are far away: the connection can only close because the
    // client left (this file's app would close it at its 400 ms first-byte deadline anyway).
    const patient = await startStubbedApp({
      upstream: { stream: { firstByteMs: 600_000, idleMs: 600_000 } },
    });
    try {
      patient.stub.on('POST', '/completions', reply.hang());
      const controller = new AbortController();
      const response = await fetch(patient.app.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: streamBody,
        signal: controller.signal,
      });
      expect(response.headers.get('content-type')).toBe('text/event-stream');
      await expect.poll(() => patient.stub.hits('/completions')).toBe(1);
      expect(patient.stub.closedConnections).toBe(0);
      controller.abort();
      await expect.poll(() => patient.stub.closedConnections, { timeout: 30_000 }).toBe(1);
    } finally {
      await stopStubbedApp(patient);
    }
  });

  it('through yoga too: a client that leaves a stream gone quiet closes the upstream request', async () => {
    const patient = await startStubbedApp({
      upstream: { stream: { firstByteMs: 600_000, idleMs: 600_000 } },
    });
    try {
      // One chunk, then nothing: the stream waits on the upstream when the client leaves.
      patient.stub.on('POST', '/completions', async (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(`${firstChunk}\n\n`);
      });
      const controller = new AbortController();
      const response = await fetch(`${patient.app.graphqlUrl}?via=yoga`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'text/event-stream',
          'x-request-id': 'quiet-1',
        },
        body: streamBody,
        signal: controller.signal,
      });
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      let text = '';
      while (!text.includes('event: next')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      // yoga's own stream tags its events with the request id, as the route does.
      expect(text).toContain('"requestId":"quiet-1"');
      expect(patient.stub.closedConnections).toBe(0);
      controller.abort();
      await expect.poll(() => patient.stub.closedConnections, { timeout: 30_000 }).toBe(1);
    } finally {
      await stopStubbedApp(patient);
    }
  });

  it('refuses a body over the cap with 413 before reading it', async () => {
    const big = JSON.stringify({ query: completionStream, variables: { input }, pad: 'x'.repeat(1_100_000) });
    const answer = await send('/graphql', big);
    expect(answer.status).toBe(413);
    expect(answer.events).toContain('PAYLOAD_TOO_LARGE');
    expect(stub.hits('/completions')).toBe(hitsBefore);
  });

  it('gives the upstream connection back after [DONE]: streams in a row reuse it', async () => {
    // As real servers often do, the end of the response comes a moment after [DONE].
    let ended = 0;
    stub.on('POST', '/completions', async (_req, res) => {
      res.on('close', () => ended++);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(recorded('openai-stream-basic.sse'));
      setTimeout(() => res.end(), 20);
    });
    const client = sseClient(app.graphqlUrl);
    await client.run(completionStream, { input });
    await expect.poll(() => ended).toBe(1);
    const opened = stub.connectionsOpened;
    const cut = stub.closedConnections;
    for (let i = 2; i <= 6; i++) {
      const { events, error } = await client.run(completionStream, { input });
      expect(error).toBeUndefined();
      expect(events).toHaveLength(7);
      // The stub's response has ended (or been cut) before the next stream starts.
      await expect.poll(() => ended).toBe(i);
    }
    await client.dispose();
    // Read to its end, never cut after [DONE]: cut, every stream would open a connection of its own.
    expect(stub.closedConnections).toBe(cut);
    expect(stub.connectionsOpened).toBeLessThan(opened + 5);
  });

  it('cuts off an upstream that keeps the response open after [DONE] (it would keep it open forever)', async () => {
    const closed = stub.closedConnections;
    stub.on('POST', '/completions', async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(recorded('openai-stream-basic.sse'));
      const timer = setInterval(() => res.write(': keep-alive\n\n'), 50);
      res.on('close', () => clearInterval(timer));
    });
    const client = sseClient(app.graphqlUrl);
    const { events, error } = await client.run(completionStream, { input });
    await client.dispose();
    expect(error).toBeUndefined();
    expect(events).toHaveLength(7);
    await expect.poll(() => stub.closedConnections, { timeout: 30_000, interval: 20 }).toBe(closed + 1);
  });
});

describe('GraphQL over SSE with client keys', () => {
  const token = 'ck-sse-CANARY-0a1b2c3d';
  let keyed: TestApp;
  let keyedStub: StubUpstream;

  beforeAll(async () => {
    const authenticator = new ClientAuthenticator([{ name: 'sse', sha256: hashToken(token) }]);
    ({ stub: keyedStub, app: keyed } = await startStubbedApp({ app: { authenticator } }));
    keyedStub.on('POST', '/completions', reply.recorded('openai-stream-basic.sse'));
  });

  afterAll(() => stopStubbedApp({ stub: keyedStub, app: keyed }));

  it('streams for a valid key and answers 401 without one, calling nothing', async () => {
    const post = (headers: Record<string, string>) =>
      fetch(keyed.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
        body: streamBody,
      });
    const refused = await post({});
    expect(refused.status).toBe(401);
    expect(await refused.text()).toContain('UNAUTHENTICATED');
    expect(keyedStub.hits('/completions')).toBe(0);
    const served = await post({ authorization: `Bearer ${token}` });
    expect(served.status).toBe(200);
    expect((await served.text()).match(/^event: next$/gm)).toHaveLength(7);
    expect(keyedStub.hits('/completions')).toBe(1);
  });
});
