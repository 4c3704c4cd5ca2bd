import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompletion } from '../helpers/operations.js';
import { reply, type StubUpstream } from '../helpers/stub-upstream.js';
import { startStubbedApp, stopStubbedApp, type TestApp } from '../helpers/test-app.js';

/** When most recent calls fail, answer at once without touching the upstream; probe after a cool-down. */

let stub: StubUpstream;
let app: TestApp;
const coolDownMs = 300;

beforeAll(async () => {
  ({ stub, app } = await startStubbedApp({
    upstream: { maxRetries: 0 },
    app: { breaker: { windowSize: 4, minimumCalls: 4, failureRatio: 0.5, coolDownMs } },
  }));
});

afterAll(() => stopStubbedApp({ stub, app }));

const input = { model: 'gpt-3.5-turbo-instruct', prompt: { text: 'hi' } };
const code = async () => (await app.post(createCompletion, { input })).json.errors?.[0]?.extensions?.code;

describe('circuit breaker', () => {
  it('opens after failures, refuses with 0 upstream hits, then closes after a good probe', async () => {
    stub.on(
      'POST',
      '/completions',
      reply.json(500, { error: { message: 'boom', type: 'server_error', param: null, code: null } }),
    );
    for (let i = 0; i < 4; i++) expect(await code()).toBe('UPSTREAM_UNAVAILABLE');
    expect(stub.hits('/completions')).toBe(4);

    const started = Date.now();
    const refused = await app.post(createCompletion, { input });
    expect(refused.json.errors[0].extensions.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(refused.json.errors[0].message).toMatch(/circuit open/);
    expect(Date.now() - started).toBeLessThan(100);
    expect(stub.hits('/completions')).toBe(4);
    expect(app.app.breaker.state).toBe('open');

    await new Promise((resolve) => setTimeout(resolve, coolDownMs + 20));
    expect(app.app.breaker.state).toBe('half-open');
    stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
    expect(await code()).toBeUndefined();
    expect(stub.hits('/completions')).toBe(5);
    expect(app.app.breaker.state).toBe('closed');
  });

  it('a failed probe opens the circuit again for another cool-down', async () => {
    stub.on('POST', '/completions', reply.json(503, {}));
    for (let i = 0; i < 4; i++) await code();
    expect(app.app.breaker.state).toBe('open');
    await new Promise((resolve) => setTimeout(resolve, coolDownMs + 20));
    const before = stub.hits('/completions');
    expect(await code()).toBe('UPSTREAM_UNAVAILABLE');
    expect(stub.hits('/completions') - before).toBe(1);
    expect(app.app.breaker.state).toBe('open');
    expect(await code()).toBe('UPSTREAM_UNAVAILABLE');
    expect(stub.hits('/completions') - before).toBe(1);
  });
});
