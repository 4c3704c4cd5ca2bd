import type { ServerResponse } from 'node:http';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { completionStream, createCompletion } from '../helpers/operations.js';
import { recorded } from '../helpers/recorded.js';
import { reply, type StubUpstream } from '../helpers/stub-upstream.js';
import { startStubbedApp, stopStubbedApp, type TestApp } from '../helpers/test-app.js';

/**
 * When most recent calls fail on the upstream's side, answer at once without touching the upstream;
 * probe after a cool-down. The breaker is shared by all clients, so what one client does wrong
 * (its own key, its quota) must not close the service for the others. Time is an injected clock.
 */

let stub: StubUpstream;
let app: TestApp;
const coolDownMs = 300;
const clock = { now: 0 };

beforeEach(async () => {
  clock.now = 0;
  ({ stub, app } = await startStubbedApp({
    // Streams are bounded by size too: large enough here for a reader to stall before the cap.
    upstream: { maxRetries: 0, maxResponseBytes: 256 * 1024 * 1024 },
    app: {
      upstreamKeyPassthrough: true,
      breaker: { windowSize: 4, minimumCalls: 4, failureRatio: 0.5, coolDownMs, now: () => clock.now },
    },
  }));
});

afterEach(() => stopStubbedApp({ stub, app }));

const input = { model: 'gpt-3.5-turbo-instruct', prompt: { text: 'hi' } };
const complete = (headers: Record<string, string> = {}) => app.post(createCompletion, { input }, headers);
const code = async (headers: Record<string, string> = {}) =>
  (await complete(headers)).json.errors?.[0]?.extensions?.code;
const serverError = reply.json(500, {
  error: { message: 'boom', type: 'server_error', param: null, code: null },
});

async function openCircuit() {
  stub.on('POST', '/completions', serverError);
  for (let i = 0; i < 4; i++) expect(await code()).toBe('UPSTREAM_UNAVAILABLE');
  expect(app.app.breaker.state).toBe('open');
}

describe('circuit breaker', () => {
  it('opens after failures, refuses with 0 upstream hits, then closes after a good probe', async () => {
    await openCircuit();
    expect(stub.hits('/completions')).toBe(4);

    const refused = await complete();
    expect(refused.json.errors[0].extensions.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(refused.json.errors[0].message).toMatch(/circuit open/);
    expect(stub.hits('/completions')).toBe(4);

    clock.now += coolDownMs;
    expect(app.app.breaker.state).toBe('half-open');
    stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
    expect(await code()).toBeUndefined();
    expect(stub.hits('/completions')).toBe(5);
    expect(app.app.breaker.state).toBe('closed');
  });

  it('a failed probe opens the circuit again for another cool-down', async () => {
    await openCircuit();
    clock.now += coolDownMs;
    const before = stub.hits('/completions');
    expect(await code()).toBe('UPSTREAM_UNAVAILABLE');
    expect(stub.hits('/completions') - before).toBe(1);
    expect(app.app.breaker.state).toBe('open');
    expect(await code()).toBe('UPSTREAM_UNAVAILABLE');
    expect(stub.hits('/completions') - before).toBe(1);
  });
});

describe('what one client does wrong does not open it for the others', () => {
  const badKey = 'sk-caller-bad-0123456789abcdefBADKEY';

  it('30 calls with a refused pass-through key: UPSTREAM_KEY_REFUSED each, a second client still served', async () => {
    stub.on('POST', '/completions', (req, res, recordedRequest) => {
      const refusedKey = req.headers.authorization === `Bearer ${badKey}`;
      const handler = refusedKey
        ? reply.raw(401, recorded('openai-error-401-invalid-api-key.json'), {
            'content-type': 'application/json',
          })
        : reply.recorded('openai-nonstream-basic.json');
      return handler(req, res, recordedRequest);
    });
    for (let i = 0; i < 30; i++) {
      const { json } = await complete({ 'x-upstream-api-key': badKey });
      expect(json.errors[0].extensions).toMatchObject({ code: 'UPSTREAM_KEY_REFUSED', upstreamStatus: 401 });
      expect(json.errors[0].message).toMatch(/X-Upstream-Api-Key/);
    }
    expect(stub.hits('/completions')).toBe(30);
    expect(app.app.breaker.state).toBe('closed');

    const second = await complete();
    expect(second.json.data.createCompletion.id).toBeTruthy();
    expect(stub.hits('/completions')).toBe(31);
    app.assertNoSecretLeaked([badKey, badKey.slice(0, 8), badKey.slice(-6)]);
  });

  it('upstream 429s (quota, told with retryAfter) do not open it', async () => {
    stub.on(
      'POST',
      '/completions',
      reply.raw(429, recorded('openai-error-429-rate-limit.json'), {
        'content-type': 'application/json',
        'retry-after': '3',
      }),
    );
    for (let i = 0; i < 10; i++) {
      const { json } = await complete();
      expect(json.errors[0].extensions).toMatchObject({ code: 'UPSTREAM_RATE_LIMITED', retryAfter: 3 });
    }
    expect(app.app.breaker.state).toBe('closed');
    stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
    expect(await code()).toBeUndefined();
  });
});

/** An upstream stream that sends as fast as its socket accepts, and says when it is held back. */
function endlessStream(state: { pushedBack: boolean }) {
  const piece = (i: number) =>
    `data: ${JSON.stringify({ id: 'cmpl-s', object: 'text_completion', created: 1, model: 'm', choices: [{ text: `${i} ${'x'.repeat(8_000)}`, index: 0, logprobs: null, finish_reason: null }] })}\n\n`;
  const drainedOrClosed = (res: ServerResponse) =>
    new Promise<void>((resolve) => {
      // Whichever comes first; the other listener goes too, or thousands of waits pile up on `close`.
      const done = () => {
        res.off('drain', done).off('close', done);
        resolve();
      };
      res.once('drain', done).once('close', done);
    });
  return async (_req: unknown, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (let i = 0; i < 8_000 && !res.destroyed; i++) {
      if (!res.write(piece(i))) {
        state.pushedBack = true;
        await drainedOrClosed(res);
      }
    }
    res.end();
  };
}

describe('streams and the half-open probe', () => {
  it('a probe stream whose reader stalls does not block the next caller', async () => {
    await openCircuit();
    clock.now += coolDownMs;
    const state = { pushedBack: false };
    stub.on('POST', '/completions', endlessStream(state));

    // The probe: a stream whose client never reads a byte of the answer.
    const stalled = await request(app.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: completionStream, variables: { input: { ...input, maxTokens: 1_000 } } }),
    });
    expect(stalled.statusCode).toBe(200);
    // Every buffer between the upstream and the client is full: the stream is stuck on its reader.
    await expect.poll(() => state.pushedBack, { timeout: 10_000 }).toBe(true);

    stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
    const next = await complete();
    expect(next.json.errors).toBeUndefined();
    expect(next.json.data.createCompletion.id).toBeTruthy();
    expect(app.app.breaker.state).toBe('closed');

    stalled.body.destroy();
    await expect.poll(() => stub.closedConnections, { timeout: 5_000 }).toBeGreaterThanOrEqual(1);
  });

  it('a stream that breaks after it started counts as a failure', async () => {
    const cut = reply.sse([
      `data: ${JSON.stringify({ id: 'c', object: 'text_completion', created: 1, model: 'm', choices: [{ text: 'a', index: 0, logprobs: null, finish_reason: null }] })}\n\n`,
      'data: {"not json\n\n',
    ]);
    stub.on('POST', '/completions', cut);
    for (let i = 0; i < 4; i++) {
      const response = await request(app.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ query: completionStream, variables: { input } }),
      });
      expect(await response.body.text()).toContain('UPSTREAM_BAD_RESPONSE');
    }
    expect(app.app.breaker.state).toBe('open');
  });
});
