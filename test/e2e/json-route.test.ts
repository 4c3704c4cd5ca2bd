import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ClientAuthenticator, hashToken } from '../../src/auth/client-keys.js';
import { configDefaults } from '../../src/config.js';
import { createCompletion } from '../helpers/operations.js';
import { reply, type StubUpstream } from '../helpers/stub-upstream.js';
import { startStubbedApp, stopStubbedApp, type TestApp } from '../helpers/test-app.js';

/**
 * The common JSON POST is answered by a route in front of yoga (src/transports/json-route.ts) for
 * speed. These tests hold it to yoga's own answers: the same request sent to `/graphql?via=yoga`
 * (a URL the route leaves alone) must give the same status, headers and body; and they check that
 * the route, not yoga, answered where it should.
 */

let stub: StubUpstream;
let app: TestApp;
const token = 'ck-json-route-1';

beforeAll(async () => {
  ({ stub, app } = await startStubbedApp({
    app: {
      corsOrigins: ['https://app.example'],
      authenticator: new ClientAuthenticator([{ name: 'alice', sha256: hashToken(token) }]),
    },
  }));
});

afterAll(() => stopStubbedApp({ stub, app }));

beforeEach(() => {
  stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
  stub.on('GET', '/models', reply.models('gpt-3.5-turbo-instruct'));
});

const input = { model: 'gpt-3.5-turbo-instruct', prompt: { text: 'What is 2 + 2?' }, maxTokens: 7 };
const auth = { authorization: `Bearer ${token}` };
const modern = 'application/graphql-response+json';

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

async function send(path: string, body: string, headers: Record<string, string>): Promise<Answer> {
  const response = await fetch(`${app.origin}${path}`, { method: 'POST', headers, body });
  const text = await response.text();
  app.bodies.push(text);
  const kept = Object.fromEntries(
    [...response.headers].filter(([name]) => !['date', 'connection', 'keep-alive'].includes(name)),
  );
  return { status: response.status, headers: kept, body: text };
}

/** The same request through the route and through yoga; and whether the route answered it. */
async function bothWays(body: unknown, headers: Record<string, string> = {}) {
  // One request id for both, so that the answers can be compared byte for byte.
  const all = { 'content-type': 'application/json', 'x-request-id': 'parity-1', ...auth, ...headers };
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const servedBefore = app.app.served.jsonRoute;
  const hitsBefore = stub.hits('/completions');
  const fast = await send('/graphql', text, all);
  const byRoute = app.app.served.jsonRoute - servedBefore;
  const fastCalls = stub.hits('/completions') - hitsBefore;
  const yoga = await send('/graphql?via=yoga', text, all);
  const yogaCalls = stub.hits('/completions') - hitsBefore - fastCalls;
  return { fast, yoga, byRoute, fastCalls, yogaCalls };
}

const mutation = { query: createCompletion, variables: { input } };

describe('the JSON route answers as yoga does', () => {
  it.each([
    ['no Accept', {}],
    ['*/*', { accept: '*/*' }],
    ['application/json', { accept: 'application/json' }],
    ['application/graphql-response+json', { accept: modern }],
    ['the graphql-http client default', { accept: `${modern}, application/json;q=0.9` }],
    ['application/json first', { accept: `application/json, ${modern}` }],
    ['with charset', { accept: `${modern}; charset=utf-8` }],
  ])(
    'a completion, Accept %s: same status, headers and body; served by the route',
    async (_name, headers) => {
      const { fast, yoga, byRoute, fastCalls, yogaCalls } = await bothWays(mutation, headers);
      expect(fast.status).toBe(200);
      expect(fast).toEqual(yoga);
      expect(byRoute).toBe(1);
      expect([fastCalls, yogaCalls]).toEqual([1, 1]);
    },
  );

  it('a query, a warning in extensions, and a CORS-listed origin', async () => {
    const models = await bothWays(
      { query: '{ models { id } }' },
      { accept: modern, origin: 'https://app.example' },
    );
    expect(models.fast).toEqual(models.yoga);
    expect(models.fast.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(models.byRoute).toBe(1);
    // No storage here: store: true returns the completion with a STORE_FAILED warning.
    const warned = await bothWays({
      query: createCompletion,
      variables: { input: { ...input, store: true } },
    });
    expect(warned.fast).toEqual(warned.yoga);
    expect(JSON.parse(warned.fast.body).extensions.warnings[0].code).toBe('STORE_FAILED');
  });

  it.each([
    ['application/json', 'application/json'],
    ['application/graphql-response+json', modern],
  ])('an upstream failure after execution began (%s): same status and coded error', async (_name, accept) => {
    stub.on('POST', '/completions', reply.json(500, { error: { message: 'boom' } }));
    const { fast, yoga, byRoute } = await bothWays(mutation, { accept });
    expect(fast).toEqual(yoga);
    expect(JSON.parse(fast.body).errors[0].extensions.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(byRoute).toBe(1);
  });

  it.each([
    [
      'a rule broken (bestOf < n)',
      { query: createCompletion, variables: { input: { ...input, n: 3, bestOf: 2 } } },
      1,
    ],
    [
      'over the token ceiling',
      { query: createCompletion, variables: { input: { ...input, maxTokens: 1_000_000 } } },
      1,
    ],
    [
      'a wrongly typed variable',
      { query: createCompletion, variables: { input: { ...input, maxTokens: 'x' } } },
      1,
    ],
    ['a syntax error', { query: 'mutation {' }, 0],
    ['an unknown field', { query: '{ nope }' }, 0],
    ['50 directives', { query: `{ __typename ${'@skip(if: false) '.repeat(50)}}` }, 0],
    [
      'a subscription',
      { query: 'subscription { completionStream(input: { model: "m", prompt: { text: "x" } }) { id } }' },
      0,
    ],
    ['variables as an array', '{"query":"{ __typename }","variables":[]}', 0],
    ['not JSON', '{"query":'],
    ['an unknown operation name', { query: 'query A { __typename }', operationName: 'B' }, 0],
  ] as [string, unknown, number?][])(
    '%s: the same refusal as yoga, nothing paid (answered by the route when coded after validation)',
    async (_name, body, route = 0) => {
      for (const accept of [modern, 'application/json']) {
        const { fast, yoga, byRoute, fastCalls, yogaCalls } = await bothWays(body, { accept });
        expect(fast).toEqual(yoga);
        expect(fast.status).toBeGreaterThanOrEqual(accept === modern ? 400 : 200);
        expect(byRoute).toBe(route);
        expect([fastCalls, yogaCalls]).toEqual([0, 0]);
      }
    },
  );

  it('leaves to yoga what it does not serve: no key, other media types, a federated trace', async () => {
    const cases: Record<string, string>[] = [
      { authorization: 'Bearer wrong' },
      { accept: 'text/html' },
      { accept: 'application/json; charset=latin1' },
      { 'content-type': 'application/graphql' },
      { 'apollo-federation-include-trace': 'ftv1' },
    ];
    for (const headers of cases) {
      const { fast, yoga, byRoute } = await bothWays({ query: '{ __typename }' }, headers);
      // A federated trace holds timestamps: compared as present, not byte for byte.
      const untimed = (body: string) => body.replace(/"ftv1":"[^"]+"/, '"ftv1":"…"');
      fast.body = untimed(fast.body);
      yoga.body = untimed(yoga.body);
      expect({ headers, status: fast.status, body: fast.body }).toEqual({
        headers,
        status: yoga.status,
        body: yoga.body,
      });
      expect(byRoute).toBe(0);
    }
  });
});

describe('known documents', () => {
  const nested = '{ models { id } }';
  const post = (target: TestApp, query: string) =>
    fetch(target.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: modern, ...auth },
      body: JSON.stringify({ query }),
    }).then(async (response) => ({ status: response.status, json: await response.json() }));

  it('a document that did not validate is refused again, every time', async () => {
    for (let i = 0; i < 3; i++) {
      const { status, json } = await post(app, '{ nope }');
      expect(status).toBe(400);
      expect(json.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    }
  });

  it('are known per server: one with stricter limits validates a document another ran', async () => {
    const strict = await startStubbedApp({
      app: {
        limits: { ...configDefaults.limits, maxDepth: 1 },
        authenticator: new ClientAuthenticator([{ name: 'alice', sha256: hashToken(token) }]),
      },
    });
    try {
      for (let i = 0; i < 2; i++)
        expect((await post(app, nested)).json.data.models).toEqual(expect.any(Array));
      for (let i = 0; i < 2; i++) {
        const refused = await post(strict.app, nested);
        expect(refused.status).toBe(400);
        expect(refused.json.data).toBeUndefined();
      }
    } finally {
      await stopStubbedApp(strict);
    }
  });
});
