import { createClient as createWsClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ClientAuthenticator, hashToken } from '../../src/auth/client-keys.js';
import { wsClient } from '../helpers/clients.js';
import { completionStream, createCompletion } from '../helpers/operations.js';
import { canaryKey, reply, type StubUpstream, startStubUpstream } from '../helpers/stub-upstream.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

/** Client keys on every transport, and the server's upstream key never crossing to or from a client. */

const aliceToken = 'ck-alice-CANARY-5f1d2c3b4a';
const bobToken = 'ck-bob-CANARY-9e8d7c6b5a';
const clientUpstreamKey = 'sk-client-own-CANARY-77aa88bb99';
const authenticator = new ClientAuthenticator([
  { name: 'alice', sha256: hashToken(aliceToken) },
  { name: 'bob', sha256: hashToken(bobToken) },
]);

let stub: StubUpstream;
let app: TestApp;
let passthrough: TestApp;

beforeAll(async () => {
  stub = await startStubUpstream();
  stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
  stub.on('GET', '/models', reply.models('gpt-3.5-turbo-instruct'));
  app = await startTestApp({ upstream: { baseUrl: stub.baseUrl }, app: { authenticator } });
  passthrough = await startTestApp({
    upstream: { baseUrl: stub.baseUrl },
    app: { authenticator, upstreamKeyPassthrough: true },
  });
});

afterAll(async () => {
  const secrets = [canaryKey, aliceToken, bobToken, clientUpstreamKey];
  app.assertNoSecretLeaked(secrets);
  passthrough.assertNoSecretLeaked(secrets);
  await app.close();
  await passthrough.close();
  await stub.close();
});

const input = { model: 'gpt-3.5-turbo-instruct', prompt: { text: 'Who won?' } };
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('GraphQL over HTTP', () => {
  it('refuses a request without a key: 401 UNAUTHENTICATED, no upstream call', async () => {
    const before = stub.hits();
    const { status, json, headers } = await app.post(createCompletion, { input });
    expect(status).toBe(401);
    expect(json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(json.extensions.requestId).toBe(headers.get('x-request-id'));
    expect(stub.hits() - before).toBe(0);
  });

  it('refuses a wrong key and a malformed header the same way', async () => {
    for (const authorization of ['Bearer ck-nobody', 'Basic YWxpY2U6eA==', `Bearer ${aliceToken}x`]) {
      const { status, json } = await app.post(createCompletion, { input }, { authorization });
      expect(status).toBe(401);
      expect(json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    }
  });

  it('serves a valid key, and the upstream sees the server key, never the client token', async () => {
    const { json } = await app.post(createCompletion, { input }, bearer(aliceToken));
    expect(json.data.createCompletion.choices[0].finishReason).toBe('STOP');
    const sent = stub.requests.at(-1);
    expect(sent?.headers.authorization).toBe(`Bearer ${canaryKey}`);
    expect(JSON.stringify(sent?.headers)).not.toContain(aliceToken);
    expect(sent?.body).not.toContain(aliceToken);
  });

  it('keeps the GraphiQL page and /healthz open', async () => {
    expect((await fetch(app.graphqlUrl, { headers: { accept: 'text/html' } })).status).toBe(200);
    expect((await fetch(`${app.origin}/healthz`)).status).toBe(200);
  });
});

describe('GraphQL over WebSocket', () => {
  it('closes a connection without a key before any operation runs', async () => {
    const before = stub.hits();
    const client = wsClient(app.graphqlUrl);
    const outcome = await client.run(completionStream, { input });
    await client.dispose();
    // graphql-ws reports the close itself: 4403 Forbidden, at connection_init.
    expect(outcome.error).toMatchObject({ code: 4403, reason: 'Forbidden' });
    expect(outcome.events).toEqual([]);
    expect(stub.hits() - before).toBe(0);
  });
});

describe('graphql-sse single-connection streams', () => {
  it('are their reserving client’s: another key holding the token can neither run on them nor stop them', async () => {
    const url = `${app.origin}/graphql/stream`;
    const reserved = await fetch(url, { method: 'PUT', headers: bearer(aliceToken) });
    expect(reserved.status).toBe(201);
    const token = await reserved.text();
    const stream = await fetch(`${url}?token=${token}`, {
      headers: { ...bearer(aliceToken), accept: 'text/event-stream' },
    });
    expect(stream.status).toBe(200);
    const operation = (who: string, id: string) =>
      fetch(url, {
        method: 'POST',
        headers: {
          ...bearer(who),
          'content-type': 'application/json',
          'x-graphql-event-stream-token': token,
        },
        body: JSON.stringify({ query: '{ usage { client } }', extensions: { operationId: id } }),
      });
    expect((await operation(bobToken, 'b1')).status).toBe(404);
    const stop = await fetch(`${url}?operationId=a1`, {
      method: 'DELETE',
      headers: { ...bearer(bobToken), 'x-graphql-event-stream-token': token },
    });
    expect(stop.status).toBe(404);
    expect((await operation(aliceToken, 'a1')).status).toBe(202);
    await stream.body?.cancel();
  });
});

describe('the REST face', () => {
  it('answers 401 in the OpenAI envelope without a key, 200 with one', async () => {
    const body = JSON.stringify({ model: 'gpt-3.5-turbo-instruct', prompt: 'Who won?' });
    const headers = { 'content-type': 'application/json' };
    const refused = await fetch(`${app.origin}/v1/completions`, { method: 'POST', headers, body });
    expect(refused.status).toBe(401);
    expect((await refused.json()).error.code).toBe('invalid_api_key');
    const served = await fetch(`${app.origin}/v1/completions`, {
      method: 'POST',
      headers: { ...headers, ...bearer(bobToken) },
      body,
    });
    expect(served.status).toBe(200);
    expect((await served.json()).id).toBe('cmpl-C47L3RG6ICY37W3Q0flVHr4BPTPMS');
    expect(stub.requests.at(-1)?.headers.authorization).toBe(`Bearer ${canaryKey}`);
  });
});

describe('pass-through mode', () => {
  it('a key no header can carry (over WebSocket) is refused as the caller’s, never sent, never a breaker failure', async () => {
    const before = stub.hits('/completions');
    const client = createWsClient({
      url: passthrough.graphqlUrl.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: true,
      connectionParams: { authorization: `Bearer ${aliceToken}`, 'x-upstream-api-key': 'sk-bad\nkey' },
    });
    const results: { errors?: { extensions?: { code?: string } }[] }[] = [];
    for (let i = 0; i < 12; i++) {
      results.push(
        await new Promise((resolve, reject) => {
          let last: (typeof results)[number] = {};
          client.subscribe(
            { query: createCompletion, variables: { input } },
            { next: (value) => (last = value as typeof last), error: reject, complete: () => resolve(last) },
          );
        }),
      );
    }
    await client.dispose();
    expect(new Set(results.map((r) => r.errors?.[0]?.extensions?.code))).toEqual(
      new Set(['UPSTREAM_KEY_REFUSED']),
    );
    expect(stub.hits('/completions') - before).toBe(0);
    expect((await fetch(`${passthrough.origin}/readyz`)).status).toBe(200);
  });

  it('forwards the client’s own upstream key instead of the server’s', async () => {
    const { json } = await passthrough.post(
      createCompletion,
      { input },
      { ...bearer(aliceToken), 'x-upstream-api-key': clientUpstreamKey },
    );
    expect(json.errors).toBeUndefined();
    expect(stub.requests.at(-1)?.headers.authorization).toBe(`Bearer ${clientUpstreamKey}`);
  });

  it('still uses the server key when the client sends none, and never forwards the client token', async () => {
    const before = stub.hits('/completions');
    const { json } = await passthrough.post(createCompletion, { input }, bearer(aliceToken));
    expect(json.errors).toBeUndefined();
    expect(stub.hits('/completions') - before).toBe(1);
    const sent = stub.requests.at(-1);
    expect(sent?.headers.authorization).toBe(`Bearer ${canaryKey}`);
    expect(JSON.stringify(sent?.headers)).not.toContain(aliceToken);
  });

  it('never forwards the client’s upstream key when pass-through is off', async () => {
    const before = stub.hits('/completions');
    const { json } = await app.post(
      createCompletion,
      { input },
      { ...bearer(aliceToken), 'x-upstream-api-key': clientUpstreamKey },
    );
    expect(json.errors).toBeUndefined();
    expect(stub.hits('/completions') - before).toBe(1);
    const sent = stub.requests.at(-1);
    expect(sent?.headers.authorization).toBe(`Bearer ${canaryKey}`);
    expect(JSON.stringify(sent?.headers)).not.toContain(clientUpstreamKey);
  });

  it('a 401 caused by the client’s key never echoes it', async () => {
    stub.on(
      'POST',
      '/completions',
      reply.json(401, {
        error: {
          message: `Incorrect API key provided: ${clientUpstreamKey.slice(0, 8)}****${clientUpstreamKey.slice(-4)}`,
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_api_key',
        },
      }),
    );
    try {
      const { json, text } = await passthrough.post(
        createCompletion,
        { input },
        { ...bearer(aliceToken), 'x-upstream-api-key': clientUpstreamKey },
      );
      // The refusal did reach the client, as a failed call, not as a success with a quiet body.
      expect(stub.requests.at(-1)?.headers.authorization).toBe(`Bearer ${clientUpstreamKey}`);
      expect(json.data).toBeNull();
      expect(json.errors).toHaveLength(1);
      expect(text).not.toContain(clientUpstreamKey.slice(0, 8));
      expect(text).not.toContain(clientUpstreamKey.slice(-4));
    } finally {
      stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
    }
  });
});
