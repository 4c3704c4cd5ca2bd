import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config.js';
import { loopbackHosts } from '../../src/http/cors.js';
import { createCompletion } from '../helpers/operations.js';
import { reply, type StubUpstream, startStubUpstream } from '../helpers/stub-upstream.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * With no client keys, any page a developer visits could spend the server's upstream key through
 * the developer's browser. Browsers may only read answers, and send non-simple requests, where
 * the server says so: by default only its own pages; `CORS_ORIGINS` names others.
 */

let stub: StubUpstream;
/** No CORS_ORIGINS: same-origin only. */
let app: TestApp;
let listing: TestApp;
let anyOrigin: TestApp;
const listed = 'https://app.example';
const foreign = 'https://evil.example';

beforeAll(async () => {
  stub = await startStubUpstream();
  stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
  const upstream = { baseUrl: stub.baseUrl };
  app = await startTestApp({ upstream });
  listing = await startTestApp({ upstream, app: { corsOrigins: [listed] } });
  anyOrigin = await startTestApp({ upstream, app: { corsOrigins: ['*'] } });
});

afterAll(async () => {
  for (const each of [app, listing, anyOrigin]) {
    each.assertNoSecretLeaked();
    await each.close();
  }
  await stub.close();
});

const input = { model: 'gpt-3.5-turbo-instruct', prompt: { text: 'Who won?' } };

function preflight(target: TestApp, origin: string): Promise<Response> {
  return fetch(target.graphqlUrl, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type, authorization',
    },
  });
}

describe('CORS on /graphql', () => {
  it('gives a cross-origin POST no access-control-allow-origin by default', async () => {
    const { headers } = await app.post(createCompletion, { input }, { origin: foreign });
    expect(headers.get('access-control-allow-origin')).toBeNull();
    expect(headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('does not allow a preflight from a foreign origin', async () => {
    for (const target of [app, listing]) {
      const response = await preflight(target, foreign);
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
      expect(response.headers.get('access-control-allow-headers')).toBeNull();
      expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    }
  });

  it('allows exactly the listed origins, with credentials', async () => {
    const allowed = await preflight(listing, listed);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(listed);
    expect(allowed.headers.get('access-control-allow-headers')).toBe('content-type, authorization');
    expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');

    const served = await listing.post(createCompletion, { input }, { origin: listed });
    expect(served.json.data.createCompletion.choices[0].finishReason).toBe('STOP');
    expect(served.headers.get('access-control-allow-origin')).toBe(listed);
    expect(served.headers.get('vary')).toMatch(/\bOrigin\b/);

    const other = await listing.post(createCompletion, { input }, { origin: 'https://app.example.evil' });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('with `*` allows any origin, never with credentials', async () => {
    const served = await anyOrigin.post(createCompletion, { input }, { origin: foreign });
    expect(served.headers.get('access-control-allow-origin')).toBe(foreign);
    expect(served.headers.get('access-control-allow-credentials')).toBeNull();
    const allowed = await preflight(anyOrigin, foreign);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(foreign);
    expect(allowed.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('serves this server’s own pages (GraphiQL), which need no CORS headers', async () => {
    const { status, json, headers } = await app.post(createCompletion, { input }, { origin: app.origin });
    expect(status).toBe(200);
    expect(json.data.createCompletion.choices[0].finishReason).toBe('STOP');
    expect(headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('the REST face', () => {
  it('refuses a POST a browser sends cross-site without a preflight: 415, no upstream call', async () => {
    const before = stub.hits('/completions');
    const body = JSON.stringify({ model: 'gpt-3.5-turbo-instruct', prompt: 'Who won?' });
    for (const contentType of [
      'text/plain',
      'text/plain;charset=UTF-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
    ]) {
      const response = await fetch(`${app.origin}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': contentType, origin: foreign },
        body,
      });
      const json = (await response.json()) as { error: { code: string; type: string } };
      expect([contentType, response.status]).toEqual([contentType, 415]);
      expect(json.error).toMatchObject({ type: 'invalid_request_error', code: 'unsupported_media_type' });
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
    }
    expect(stub.hits('/completions')).toBe(before);
  });
});

describe('configuration', () => {
  it('reads CORS_ORIGINS as exact origins and WS_INIT_TIMEOUT_MS, refusing what is not an origin', () => {
    const config = loadConfig({ CORS_ORIGINS: ' https://App.example:8443/ , http://localhost:5173,* ' });
    expect(config.corsOrigins).toEqual(['https://app.example:8443', 'http://localhost:5173', '*']);
    expect(loadConfig({}).corsOrigins).toEqual([]);
    expect(loadConfig({}).wsInitTimeoutMs).toBe(3_000);
    expect(loadConfig({ WS_INIT_TIMEOUT_MS: '500' }).wsInitTimeoutMs).toBe(500);
    for (const bad of ['app.example', 'https://app.example/path', 'https://app.example?x=1']) {
      expect(() => loadConfig({ CORS_ORIGINS: bad })).toThrow(/CORS_ORIGINS/);
    }
  });
});

describe('DNS rebinding: a server on loopback answers only to loopback names', () => {
  let bound: TestApp;
  beforeAll(async () => {
    bound = await startTestApp({ upstream: { baseUrl: stub.baseUrl }, app: { allowedHosts: loopbackHosts } });
  });
  afterAll(async () => {
    await bound.close();
  });

  /** node's fetch will not send a forged Host; a raw request does, as a rebinding browser would. */
  function withHost(host: string, path = '/graphql', body?: string) {
    return request(`${bound.origin}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { host, 'content-type': 'application/json', origin: `http://${host}` },
      ...(body === undefined ? {} : { body }),
    });
  }

  it('refuses a page on another name pointed at 127.0.0.1: 421, nothing runs', async () => {
    const before = stub.hits('/completions');
    const port = new URL(bound.origin).port;
    const body = JSON.stringify({ query: createCompletion, variables: { input } });
    const refused = await withHost(`rebind.evil.example:${port}`, '/graphql', body);
    expect(refused.statusCode).toBe(421);
    expect(await refused.body.json()).toMatchObject({
      errors: [{ extensions: { code: 'MISDIRECTED_REQUEST' } }],
    });
    expect((await withHost(`rebind.evil.example:${port}`, '/v1/models')).statusCode).toBe(421);
    expect(stub.hits('/completions') - before).toBe(0);
    const upgrade = new WebSocket(bound.graphqlUrl.replace(/^http/, 'ws'), 'graphql-transport-ws', {
      headers: { host: `rebind.evil.example:${port}` },
    });
    const status = await new Promise((resolve) =>
      upgrade.once('unexpected-response', (_req, res) => resolve(res.statusCode)),
    );
    expect(status).toBe(403);
  });

  it('answers its own names', async () => {
    const port = new URL(bound.origin).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
      const response = await withHost(host, '/healthz');
      expect(response.statusCode, host).toBe(200);
      await response.body.dump();
    }
  });
});
