import { afterEach, describe, expect, it } from 'vitest';
import { createCompletion } from '../helpers/operations.js';
import { reply, type StubHandler } from '../helpers/stub-upstream.js';
import { type RoutedApp, type StubName, startRoutedApp } from './routed-app.js';

/**
 * Across groups: an attempt that fails in a way that says "try elsewhere" moves on to the next
 * deployment, in route order; the caller's own mistakes do not. Each deployment has its own breaker.
 */

let routed: RoutedApp;
afterEach(() => routed.close());

const threeGroups = (urls: Record<StubName, string>) => `
deployments:
  - { name: a, kind: openai, baseUrl: "${urls.a}", apiKeyEnv: KEY_A, models: { m: model-at-a } }
  - { name: b, kind: openai, baseUrl: "${urls.b}", apiKeyEnv: KEY_A, models: { m: model-at-b } }
  - { name: c, kind: openai, baseUrl: "${urls.c}", apiKeyEnv: KEY_A, models: { m: model-at-c } }
routes:
  m: [[a], [b], [c]]
`;

const input = { model: 'm', prompt: { text: 'hi' } };
const complete = () => routed.app.post(createCompletion, { input });
const serverError = (status: number) =>
  reply.json(status, { error: { message: 'boom', type: 'server_error', param: null, code: null } });
const rateLimited = (headers: Record<string, string> = {}) =>
  reply.json(
    429,
    { error: { message: 'slow down', type: 'requests', param: null, code: 'rate_limit_exceeded' } },
    headers,
  );

const modelsQuery = '{ models { id deployments { name model group circuit outstanding rateLimitedUntil } } }';

describe('fallback order', () => {
  it.each<[string, StubHandler, StubHandler]>([
    ['500 then 503', serverError(500), serverError(503)],
    [
      'a reset connection then a malformed answer',
      reply.resetBeforeHeaders(),
      reply.raw(200, '{"nope', { 'content-type': 'application/json' }),
    ],
    ['429 without retry-after then 429 with a long one', rateLimited(), rateLimited({ 'retry-after': '60' })],
  ])('%s: a, then b, then c serves, under the public name', async (_name, atA, atB) => {
    routed = await startRoutedApp({ file: threeGroups });
    const order: string[] = [];
    const track =
      (name: string, handler: StubHandler): StubHandler =>
      (req, res, recorded) => {
        order.push(name);
        return handler(req, res, recorded);
      };
    routed.stubs.a.on('POST', '/completions', track('a', atA));
    routed.stubs.b.on('POST', '/completions', track('b', atB));
    routed.stubs.c.on('POST', '/completions', track('c', reply.completionOrStream()));
    const { json } = await complete();
    expect(json.errors).toBeUndefined();
    expect(json.data.createCompletion.model).toBe('m');
    expect(order).toEqual(['a', 'b', 'c']);
    // Who served is told beside the answer, the model stays the public name.
    expect(json.extensions.usage.calls).toMatchObject([
      { field: 'createCompletion', model: 'm', deployment: 'c' },
    ]);
    // Each deployment was asked for the model by its own name.
    expect(routed.stubs.a.requests[0]?.json).toMatchObject({ model: 'model-at-a' });
    expect(routed.stubs.c.requests[0]?.json).toMatchObject({ model: 'model-at-c' });
  });

  it('a deployment that asked for 60 s (429 retry-after) is skipped, not waited on, and says so', async () => {
    routed = await startRoutedApp({ file: threeGroups });
    routed.stubs.a.on('POST', '/completions', rateLimited({ 'retry-after': '60' }));
    routed.stubs.b.on('POST', '/completions', reply.completionOrStream());
    for (let i = 0; i < 3; i++) expect((await complete()).json.data.createCompletion.model).toBe('m');
    expect(routed.stubs.a.hits()).toBe(1);
    expect(routed.stubs.b.hits()).toBe(3);
    const { json } = await routed.app.post(modelsQuery);
    const a = json.data.models[0].deployments[0];
    expect(a).toMatchObject({ name: 'a', model: 'model-at-a', group: 0, circuit: 'CLOSED', outstanding: 0 });
    expect(Date.parse(a.rateLimitedUntil)).toBe(routed.clock.now() + 60_000);
    routed.clock.advance(60_000);
    routed.stubs.a.on('POST', '/completions', reply.completionOrStream());
    await complete();
    expect(routed.stubs.a.hits()).toBe(2);
  });

  it('a retry-after of years takes a deployment out for 5 minutes at most', async () => {
    routed = await startRoutedApp({ file: threeGroups });
    routed.stubs.a.on('POST', '/completions', rateLimited({ 'retry-after': '999999999' }));
    routed.stubs.b.on('POST', '/completions', reply.completionOrStream());
    expect((await complete()).json.data.createCompletion.model).toBe('m');
    const { json } = await routed.app.post(modelsQuery);
    expect(Date.parse(json.data.models[0].deployments[0].rateLimitedUntil)).toBe(
      routed.clock.now() + 300_000,
    );
    routed.clock.advance(300_000);
    routed.stubs.a.on('POST', '/completions', reply.completionOrStream());
    await complete();
    expect(routed.stubs.a.hits()).toBe(2);
  });

  it('with retries on: a short retry-after is waited out at a, a 429 without one falls back at once', async () => {
    routed = await startRoutedApp({ file: threeGroups, env: { UPSTREAM_MAX_RETRIES: '2' } });
    routed.stubs.a.on(
      'POST',
      '/completions',
      rateLimited({ 'retry-after-ms': '1' }),
      reply.completionOrStream(),
    );
    expect((await complete()).json.data.createCompletion.model).toBe('m');
    expect([routed.stubs.a.hits(), routed.stubs.b.hits()]).toEqual([2, 0]);
    routed.stubs.a.on('POST', '/completions', rateLimited());
    routed.stubs.b.on('POST', '/completions', reply.completionOrStream());
    expect((await complete()).json.data.createCompletion.model).toBe('m');
    expect([routed.stubs.a.hits(), routed.stubs.b.hits()]).toEqual([3, 1]);
  });

  it('every deployment failing: the last failure is the answer, each tried once', async () => {
    routed = await startRoutedApp({ file: threeGroups });
    for (const stub of Object.values(routed.stubs)) stub.on('POST', '/completions', serverError(502));
    const { json } = await complete();
    expect(json.errors[0].extensions.code).toBe('UPSTREAM_UNAVAILABLE');
    expect([routed.stubs.a.hits(), routed.stubs.b.hits(), routed.stubs.c.hits()]).toEqual([1, 1, 1]);
  });
});

describe("never on the caller's own mistakes", () => {
  it('a 400 about the request is answered as BAD_USER_INPUT; nobody else is asked', async () => {
    routed = await startRoutedApp({ file: threeGroups });
    routed.stubs.a.on(
      'POST',
      '/completions',
      reply.json(400, {
        error: {
          message: 'max_tokens is too large',
          type: 'invalid_request_error',
          param: 'max_tokens',
          code: null,
        },
      }),
    );
    const { json } = await complete();
    expect(json.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', param: 'max_tokens' });
    expect([routed.stubs.a.hits(), routed.stubs.b.hits(), routed.stubs.c.hits()]).toEqual([1, 0, 0]);
    expect(routed.router.routing.deployment('a')?.breaker.state).toBe('closed');
  });

  it('a model no route serves: BAD_USER_INPUT (model_not_found) and no upstream call', async () => {
    routed = await startRoutedApp({ file: threeGroups });
    const { json } = await routed.app.post(createCompletion, { input: { ...input, model: 'model-at-a' } });
    expect(json.errors[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      param: 'model',
      upstreamCode: 'model_not_found',
    });
    expect(routed.stubs.a.hits()).toBe(0);
  });
});

describe('a circuit breaker per deployment', () => {
  it("a deployment's own breaker settings from the file: one failure opens it, for its own cool-down", async () => {
    routed = await startRoutedApp({
      file: (urls) =>
        threeGroups(urls).replace(
          'models: { m: model-at-a } }',
          'models: { m: model-at-a }, breaker: { windowSize: 1, minimumCalls: 1, failureRatio: 1, coolDownMs: 5000 } }',
        ),
    });
    routed.stubs.a.on('POST', '/completions', serverError(500));
    routed.stubs.b.on('POST', '/completions', reply.completionOrStream());
    await complete();
    expect(routed.router.routing.deployment('a')?.breaker.state).toBe('open');
    routed.clock.advance(4_999);
    expect(routed.router.routing.deployment('a')?.breaker.state).toBe('open');
    routed.clock.advance(1);
    expect(routed.router.routing.deployment('a')?.breaker.state).toBe('half-open');
    // b keeps the defaults: ten calls before its window decides anything.
    expect(routed.router.routing.deployment('b')?.breaker.state).toBe('closed');
  });

  const twoDeployments = (urls: Record<StubName, string>) => `
deployments:
  - { name: a, kind: openai, baseUrl: "${urls.a}", apiKeyEnv: KEY_A, models: [m] }
  - { name: b, kind: openai, baseUrl: "${urls.b}", apiKeyEnv: KEY_A, models: [m] }
routes:
  m: [[a], [b]]
`;
  const breaker = { windowSize: 2, minimumCalls: 2, failureRatio: 0.5, coolDownMs: 1_000 };

  it("a's opens and a is skipped while b serves; /readyz turns 503 only when b's opens too", async () => {
    routed = await startRoutedApp({ file: twoDeployments, inject: { breaker } });
    routed.stubs.a.on('POST', '/completions', serverError(500));
    routed.stubs.b.on('POST', '/completions', reply.completionOrStream());
    for (let i = 0; i < 2; i++) expect((await complete()).json.data.createCompletion.model).toBe('m');
    expect(routed.router.routing.deployment('a')?.breaker.state).toBe('open');
    expect(await complete()).toMatchObject({ status: 200 });
    expect([routed.stubs.a.hits(), routed.stubs.b.hits()]).toEqual([2, 3]);
    const { json } = await routed.app.post(modelsQuery);
    expect(json.data.models).toEqual([
      {
        id: 'm',
        deployments: [
          { name: 'a', model: 'm', group: 0, circuit: 'OPEN', outstanding: 0, rateLimitedUntil: null },
          { name: 'b', model: 'm', group: 1, circuit: 'CLOSED', outstanding: 0, rateLimitedUntil: null },
        ],
      },
    ]);
    expect((await fetch(`${routed.app.origin}/readyz`)).status).toBe(200);

    // b's window of two is then [success, failure]: half failed, so one failure opens it.
    routed.stubs.b.on('POST', '/completions', serverError(500));
    expect((await complete()).json.errors[0].extensions.code).toBe('UPSTREAM_UNAVAILABLE');
    const refused = (await complete()).json.errors[0];
    expect(refused.extensions.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(refused.message).toMatch(/circuit open/);
    expect([routed.stubs.a.hits(), routed.stubs.b.hits()]).toEqual([2, 4]);
    const ready = await fetch(`${routed.app.origin}/readyz`);
    expect(ready.status).toBe(503);
    expect((await ready.json()).checks.upstream).toBe("every deployment's circuit breaker is open (a, b)");

    // After the cool-down one probe goes to a; it answers, a closes and serves again.
    routed.clock.advance(1_000);
    routed.stubs.a.on('POST', '/completions', reply.completionOrStream());
    expect((await complete()).json.data.createCompletion.model).toBe('m');
    expect(routed.router.routing.deployment('a')?.breaker.state).toBe('closed');
    expect((await fetch(`${routed.app.origin}/readyz`)).status).toBe(200);
  });
});
