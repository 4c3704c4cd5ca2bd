import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { type StreamOutcome, sseClient } from '../helpers/clients.js';
import { completionStream, createCompletion } from '../helpers/operations.js';
import { reply } from '../helpers/stub-upstream.js';
import { type RoutedApp, type StubName, startRoutedApp } from './routed-app.js';

/**
 * Streams fall back only while nothing has reached the caller; after the first chunk a failure
 * ends the stream with a coded error (no second model's text spliced on) and counts against the
 * deployment's breaker. Every attempt of an operation shares one deadline (an injected clock).
 */

let routed: RoutedApp;
afterEach(() => routed.close());

const file = (urls: Record<StubName, string>) => `
deployments:
  - { name: a, kind: openai, baseUrl: "${urls.a}", apiKeyEnv: KEY_A, models: [m] }
  - { name: b, kind: openai, baseUrl: "${urls.b}", apiKeyEnv: KEY_A, models: [m] }
  - { name: c, kind: openai, baseUrl: "${urls.c}", apiKeyEnv: KEY_A, models: [m] }
routes:
  m: [[a], [b], [c]]
`;
const input = { model: 'm', prompt: { text: 'hi' } };
const firstEvent =
  'data: {"id":"cmpl-a","object":"text_completion","created":1,"choices":[{"text":"From a","index":0,"logprobs":null,"finish_reason":null}],"model":"m"}\n\n';
const stream = () => sseClient(routed.app.graphqlUrl).run(completionStream, { input });
const texts = (outcome: StreamOutcome) =>
  outcome.events.flatMap(
    (event) => event.data?.completionStream.choices.map((c: { text: string }) => c.text) ?? [],
  );

describe('before the first chunk: another deployment takes the stream unseen', () => {
  it.each([
    ['a 500', reply.json(500, { error: { message: 'boom', type: 'server_error', param: null, code: null } })],
    ['an event stream that ends at once', reply.raw(200, '', { 'content-type': 'text/event-stream' })],
    ['a refused connection', reply.resetBeforeHeaders()],
  ])('%s at a: b streams the whole completion, under the public name', async (_name, atA) => {
    routed = await startRoutedApp({ file });
    routed.stubs.a.on('POST', '/completions', atA);
    routed.stubs.b.on('POST', '/completions', reply.completionOrStream());
    const outcome = await stream();
    expect(outcome.error).toBeUndefined();
    expect(texts(outcome).join('')).toBe('The answer is 4.');
    expect(outcome.events.at(-1).extensions.usage.calls).toMatchObject([{ model: 'm', deployment: 'b' }]);
    expect(outcome.events.every((event) => event.data.completionStream.model === 'm')).toBe(true);
    expect([routed.stubs.a.hits(), routed.stubs.b.hits(), routed.stubs.c.hits()]).toEqual([1, 1, 0]);
    // The access line names the deployment that served.
    await expect
      .poll(() => routed.app.logs.find((line) => line.includes('"msg":"operation"')) ?? '')
      .toMatch(/"deployments":\["b"\]/);
  });
});

describe('after the first chunk: a coded error, no splice, the breaker counts it', () => {
  it('a cut after its first chunk ends the stream with UPSTREAM_UNAVAILABLE; b is never asked', async () => {
    routed = await startRoutedApp({
      file,
      inject: { breaker: { windowSize: 1, minimumCalls: 1, failureRatio: 1, coolDownMs: 1_000 } },
    });
    let cut: () => void = () => {};
    routed.stubs.a.on('POST', '/completions', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(firstEvent);
      cut = () => res.socket?.destroy();
    });
    routed.stubs.b.on('POST', '/completions', reply.completionOrStream());
    const events: unknown[] = [];
    const outcome = await new Promise<StreamOutcome>((resolve) => {
      sseClient(routed.app.graphqlUrl).subscribe(
        completionStream,
        { input },
        {
          next: (event) => {
            events.push(event);
            // The first chunk reached the caller: only now does a fail.
            if (events.length === 1) cut();
          },
          error: (error) => resolve({ events, error }),
          complete: () => resolve({ events }),
        },
      );
    });
    expect(texts(outcome)).toEqual(['From a']);
    const last = outcome.events.at(-1);
    expect(last.errors[0].extensions.code).toBe('UPSTREAM_UNAVAILABLE');
    expect([routed.stubs.a.hits(), routed.stubs.b.hits()]).toEqual([1, 0]);
    expect(routed.router.routing.deployment('a')?.breaker.state).toBe('open');
  });
});

describe('one deadline for every attempt', () => {
  it('a fails at 600 ms, b is cut at 1,000 ms (its connection closed), c is never tried', async () => {
    routed = await startRoutedApp({ file, env: { UPSTREAM_TIMEOUT_MS: '1000' } });
    routed.stubs.a.on('POST', '/completions', (req, res, recorded) => {
      routed.clock.advance(600);
      return reply.json(500, { error: { message: 'boom', type: 'server_error', param: null, code: null } })(
        req,
        res,
        recorded,
      );
    });
    let bClosed: Promise<void> = Promise.resolve();
    routed.stubs.b.on('POST', '/completions', (_req, res: ServerResponse) => {
      bClosed = new Promise((resolve) => res.on('close', () => resolve()));
      routed.clock.advance(600);
    });
    const { json } = await routed.app.post(createCompletion, { input });
    expect(json.errors[0].extensions.code).toBe('UPSTREAM_TIMEOUT');
    expect(json.errors[0].message).toBe('No deployment answered within 1000 ms.');
    await bClosed;
    expect(routed.stubs.b.closedConnections).toBe(1);
    expect([routed.stubs.a.hits(), routed.stubs.b.hits(), routed.stubs.c.hits()]).toEqual([1, 1, 0]);
  });

  it('no attempt starts once the deadline has passed, streams included', async () => {
    routed = await startRoutedApp({ file, env: { STREAM_TOTAL_TIMEOUT_MS: '1000' } });
    routed.stubs.a.on('POST', '/completions', (req, res, recorded) => {
      routed.clock.advance(1_000);
      return reply.json(503, { error: { message: 'later', type: 'server_error', param: null, code: null } })(
        req,
        res,
        recorded,
      );
    });
    const outcome = await stream();
    expect(outcome.events.at(-1).errors[0].extensions.code).toBe('UPSTREAM_TIMEOUT');
    expect([routed.stubs.a.hits(), routed.stubs.b.hits(), routed.stubs.c.hits()]).toEqual([1, 0, 0]);
  });
});

describe('the local engine as the last resort', () => {
  const withLocal = (urls: Record<StubName, string>) => `
deployments:
  - { name: a, kind: openai, baseUrl: "${urls.a}", apiKeyEnv: KEY_A, models: [m] }
  - { name: local, kind: local, models: { m: local-ngram-moby-dick } }
routes:
  m: [[a], [local]]
`;

  it('a dead HTTP upstream: the local engine answers, both whole and streamed', async () => {
    routed = await startRoutedApp({ file: withLocal });
    routed.stubs.a.on('POST', '/completions', reply.resetBeforeHeaders());
    const { json } = await routed.app.post(createCompletion, { input: { ...input, maxTokens: 8, seed: 1 } });
    expect(json.errors).toBeUndefined();
    expect(json.data.createCompletion.model).toBe('m');
    expect(json.data.createCompletion.usage.completionTokens).toBe(8);
    const outcome = await stream();
    expect(outcome.error).toBeUndefined();
    expect(texts(outcome).join('').length).toBeGreaterThan(0);
    expect(routed.stubs.a.hits()).toBe(2);
    const models = await routed.app.post('{ models { id deployments { name kind model group } } }');
    expect(models.json.data.models).toEqual([
      {
        id: 'm',
        deployments: [
          { name: 'a', kind: 'OPENAI', model: 'm', group: 0 },
          { name: 'local', kind: 'LOCAL', model: 'local-ngram-moby-dick', group: 1 },
        ],
      },
    ]);
  });
});
