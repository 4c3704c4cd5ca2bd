import { once } from 'node:events';
import { GRAPHQL_TRANSPORT_WS_PROTOCOL } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { wsClient } from '../helpers/clients.js';
import { completionStream, createCompletion } from '../helpers/operations.js';
import { recorded } from '../helpers/recorded.js';
import { reply } from '../helpers/stub-upstream.js';
import { type StubbedApp, startStubbedApp, stopStubbedApp } from '../helpers/test-app.js';

/** Every request has an id: in the response header, in extensions, on its log lines, at the upstream. */

let stubbed: StubbedApp;
const plainCompletion = reply.recorded('openai-nonstream-basic.json', { 'x-request-id': 'req_up' });
beforeAll(async () => {
  stubbed = await startStubbedApp();
  stubbed.stub.on('POST', '/completions', plainCompletion);
});
afterAll(() => stopStubbedApp(stubbed));

const input = { model: 'gpt-3.5-turbo-instruct', prompt: { text: 'Hi' }, maxTokens: 5 };

describe('request ids', () => {
  it('keeps a sane caller id: header, extensions and the upstream request', async () => {
    const response = await stubbed.app.post(createCompletion, { input }, { 'x-request-id': 'gw-7f3a:42' });
    expect(response.headers.get('x-request-id')).toBe('gw-7f3a:42');
    expect(response.json.extensions.requestId).toBe('gw-7f3a:42');
    expect(stubbed.stub.requests.at(-1)?.headers['x-request-id']).toBe('gw-7f3a:42');
    // A refusal before execution carries it too.
    const refused = await stubbed.app.post('{ nope }', {}, { 'x-request-id': 'gw-7f3a:43' });
    expect(refused.json.extensions.requestId).toBe('gw-7f3a:43');
  });

  it('makes a new one for a missing, overlong, unsafe or key-shaped id', async () => {
    const ids = new Set<string>();
    for (const header of [
      undefined,
      'x'.repeat(129),
      'bad id\r\nx-evil: 1',
      '<script>',
      'sk-proj-CLIENTsecretBBBB0123',
      'AKIAIOSFODNN7EXAMPLE',
    ]) {
      const response = await stubbed.app.post(
        '{ __typename }',
        {},
        header === undefined ? {} : { 'x-request-id': header.replace(/[\r\n]/g, '') },
      );
      const id = response.headers.get('x-request-id') ?? '';
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(response.json.extensions.requestId).toBe(id);
      ids.add(id);
    }
    expect(ids.size).toBe(6);
  });

  it('the REST face answers our id, with the upstream’s beside it', async () => {
    const response = await fetch(`${stubbed.app.origin}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'rest-1' },
      body: JSON.stringify({ model: 'm', prompt: 'x', max_tokens: 3 }),
    });
    expect(response.headers.get('x-request-id')).toBe('rest-1');
    expect(response.headers.get('x-upstream-request-id')).toBe('req_up');
    expect(stubbed.stub.requests.at(-1)?.headers['x-request-id']).toBe('rest-1');
  });
});

describe('over SSE', () => {
  afterEach(() => stubbed.stub.on('POST', '/completions', plainCompletion));

  /** The `next` events' payloads of an event stream. */
  async function nextEvents(
    url: string,
    requestId: string,
    body: string,
  ): Promise<Record<string, unknown>[]> {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'x-request-id': requestId },
      body,
    });
    expect(response.headers.get('x-request-id')).toBe(requestId);
    const text = await response.text();
    return text
      .split('\n\n')
      .filter((block) => block.startsWith('event: next'))
      .map((block) => JSON.parse(block.slice(block.indexOf('data: ') + 6)) as Record<string, unknown>);
  }

  const streamInput = { ...input, maxTokens: 7 };
  const body = JSON.stringify({ query: completionStream, variables: { input: streamInput } });
  const streams = {
    'the SSE route on /graphql': '',
    'yoga’s own stream': '?via=yoga',
    'graphql-sse on /graphql/stream': '/stream',
  };

  it.each(Object.entries(streams))(
    '%s: every event carries it, the error that ends a stream too',
    async (_, suffix) => {
      const url = `${stubbed.app.graphqlUrl}${suffix}`;
      stubbed.stub.on('POST', '/completions', reply.recorded('openai-stream-basic.sse'));
      const served = await nextEvents(url, `sse-ok${suffix.length}`, body);
      expect(served.length).toBeGreaterThan(2);
      for (const event of served)
        expect(event.extensions).toMatchObject({ requestId: `sse-ok${suffix.length}` });

      const first = recorded('openai-stream-basic.sse').split('\n\n')[0];
      stubbed.stub.on(
        'POST',
        '/completions',
        reply.sse([
          `${first}\n\n`,
          'data: {"error":{"message":"overloaded","type":"server_error","code":null}}\n\n',
        ]),
      );
      const failed = await nextEvents(url, `sse-err${suffix.length}`, body);
      expect(JSON.stringify(failed.at(-1)?.errors)).toContain('UPSTREAM_UNAVAILABLE');
      for (const event of failed)
        expect(event.extensions).toMatchObject({ requestId: `sse-err${suffix.length}` });

      // Refused before it runs: one event, tagged all the same.
      const refusedBody = JSON.stringify({
        query: completionStream,
        variables: { input: { ...streamInput, bestOf: 2 } },
      });
      const refused = await nextEvents(url, `sse-no${suffix.length}`, refusedBody);
      expect(refused).toHaveLength(1);
      expect(refused[0]?.extensions).toMatchObject({ requestId: `sse-no${suffix.length}` });
    },
  );
});

describe('over WebSocket', () => {
  it('each result carries the connection id / operation id, and no internal extensions', async () => {
    const client = wsClient(stubbed.app.graphqlUrl);
    const served = await client.run(createCompletion, { input });
    // Refused before it runs (a variable that does not coerce): a result with errors only.
    const refused = await client.run(createCompletion, { input: { ...input, maxTokens: 'five' } });
    await client.dispose();
    expect(served.events).toHaveLength(1);
    expect(served.events[0].extensions.requestId).toMatch(/^[0-9a-f-]{36}\/[0-9a-f-]+$/);
    expect(served.events[0].data.createCompletion.id).toBeTruthy();
    const errors = refused.events.length > 0 ? refused.events[0].errors : refused.error;
    expect(JSON.stringify(errors)).toMatch(/BAD_USER_INPUT|GRAPHQL_VALIDATION_FAILED|VARIABLES/i);
    expect(JSON.stringify(errors)).not.toMatch(/"http"|"unexpected"/);
  });
});

describe('operation ids a WebSocket client picks', () => {
  it('one no header can carry never reaches the upstream as such, and never counts against the breaker', async () => {
    const socket = new WebSocket(
      stubbed.app.graphqlUrl.replace(/^http/, 'ws'),
      GRAPHQL_TRANSPORT_WS_PROTOCOL,
    );
    socket.on('error', () => {});
    const messages: {
      id?: string;
      type: string;
      payload?: { data?: unknown; extensions?: { requestId?: string } };
    }[] = [];
    socket.on('message', (data) => messages.push(JSON.parse(String(data))));
    await once(socket, 'open');
    socket.send(JSON.stringify({ type: 'connection_init' }));
    await expect.poll(() => messages.some((m) => m.type === 'connection_ack')).toBe(true);
    const ids = Array.from({ length: 12 }, (_, i) =>
      i % 3 === 0 ? `${i}\n` : i % 3 === 1 ? `${i}${'x'.repeat(70_000)}` : `${i}-ünï`,
    );
    const sentBefore = stubbed.stub.requests.length;
    for (const id of ids) {
      socket.send(
        JSON.stringify({ id, type: 'subscribe', payload: { query: createCompletion, variables: { input } } }),
      );
      await expect.poll(() => messages.some((m) => m.id === id && m.type === 'complete')).toBe(true);
    }
    socket.close();
    const results = messages.filter((m) => m.type === 'next');
    expect(results).toHaveLength(ids.length);
    for (const result of results) {
      expect(result.payload?.data).toMatchObject({ createCompletion: { id: expect.any(String) } });
      expect(result.payload?.extensions?.requestId).toMatch(/^[A-Za-z0-9._:@/+=-]{1,128}$/);
    }
    const upstreamIds = stubbed.stub.requests.slice(sentBefore).map((r) => r.headers['x-request-id']);
    expect(upstreamIds).toHaveLength(ids.length);
    for (const id of upstreamIds) expect(id).toMatch(/^[A-Za-z0-9._:@/+=-]{1,128}$/);
    expect((await fetch(`${stubbed.app.origin}/readyz`)).status).toBe(200);
  });
});
