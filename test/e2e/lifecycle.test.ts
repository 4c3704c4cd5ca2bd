import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryRateLimiter } from '../../src/limits/index.js';
import { createStorage, type Storage } from '../../src/storage/index.js';
import { wsClient } from '../helpers/clients.js';
import { completionStream, createCompletion } from '../helpers/operations.js';
import { type Receiver, startOtlpReceiver } from '../helpers/otlp-receiver.js';
import { recorded } from '../helpers/recorded.js';
import { reply, type StubUpstream, startStubUpstream } from '../helpers/stub-upstream.js';
import { type StubbedApp, startStubbedApp, stopStubbedApp } from '../helpers/test-app.js';

/** Readiness for load balancers, and a SIGTERM that drains instead of dropping work. */

const input = { model: 'gpt-3.5-turbo-instruct', prompt: { text: 'Hi' }, maxTokens: 5 };
const firstChunk = `${recorded('openai-stream-basic.sse').split('\n\n')[0]}\n\n`;

async function readyz(origin: string) {
  const response = await fetch(`${origin}/readyz`);
  return {
    status: response.status,
    json: (await response.json()) as { status: string; checks: Record<string, string> },
  };
}

describe('/readyz', () => {
  let stubbed: StubbedApp;
  let storage: Storage;
  beforeAll(async () => {
    storage = await createStorage({ sqlitePath: ':memory:' });
    stubbed = await startStubbedApp({
      app: { storage, breaker: { minimumCalls: 2, windowSize: 2, failureRatio: 1, coolDownMs: 600_000 } },
    });
  });
  afterAll(async () => {
    await stopStubbedApp(stubbed);
  });

  it('is ready when storage answers and the upstream circuit is not open, and says what is not', async () => {
    expect(await readyz(stubbed.app.origin)).toEqual({
      status: 200,
      json: { status: 'ready', checks: { storage: 'ok', upstream: 'ok' } },
    });
    stubbed.stub.on('POST', '/completions', reply.json(500, { error: { message: 'down' } }));
    for (let i = 0; i < 2; i++) await stubbed.app.post(createCompletion, { input });
    expect(await readyz(stubbed.app.origin)).toEqual({
      status: 503,
      json: { status: 'not ready', checks: { storage: 'ok', upstream: 'circuit breaker open' } },
    });
    await storage.close();
    const down = await readyz(stubbed.app.origin);
    expect(down.status).toBe(503);
    expect(down.json.checks.storage).not.toBe('ok');
    // Liveness is not readiness: the process still answers.
    expect((await fetch(`${stubbed.app.origin}/healthz`)).status).toBe(200);
  });

  it('answers GET and HEAD only, and names no store address', async () => {
    const head = await fetch(`${stubbed.app.origin}/readyz`, { method: 'HEAD' });
    expect(head.status).toBe(503);
    expect(await head.text()).toBe('');
    for (const method of ['POST', 'DELETE', 'OPTIONS']) {
      const refused = await fetch(`${stubbed.app.origin}/readyz`, { method });
      expect(refused.status).toBe(405);
      expect(refused.headers.get('allow')).toBe('GET, HEAD');
    }
  });
});

describe('/readyz of a store that is down', () => {
  it('says which check failed, in one word: no URL, host or address of the store', async () => {
    const stubbed = await startStubbedApp({
      app: {
        limiter: {
          ...createMemoryRateLimiter(),
          ping: async () => {
            throw new Error(
              'Rate limit store redis://:hunter2@10.0.0.7:6379 is unavailable: connect ECONNREFUSED 10.0.0.7:6379',
            );
          },
        },
      },
    });
    try {
      const { status, json } = await readyz(stubbed.app.origin);
      expect(status).toBe(503);
      expect(json.checks.rateLimiter).toBe('unavailable');
    } finally {
      await stopStubbedApp(stubbed);
    }
  });
});

describe('SIGTERM on a real process', () => {
  let stub: StubUpstream;
  let collector: Receiver;
  let child: ChildProcess | undefined;
  const output: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'completions-drain-'));
  const sqlitePath = join(dir, 'drain.sqlite');

  beforeAll(async () => {
    stub = await startStubUpstream();
    collector = await startOtlpReceiver();
  });
  afterAll(async () => {
    if (child?.exitCode === null) child.kill('SIGKILL');
    await stub.close();
    await collector.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function start(): Promise<string> {
    child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: {
        ...process.env,
        PORT: '0',
        UPSTREAM: 'openai',
        OPENAI_BASE_URL: stub.baseUrl,
        OPENAI_API_KEY: 'sk-drain-test-key-0123456789',
        SQLITE_PATH: sqlitePath,
        RATE_LIMIT_REQUESTS_PER_MINUTE: '0',
        RATE_LIMIT_TOKENS_PER_MINUTE: '0',
        // Configuration, not timing assertions: how long the drain waits before each step.
        SHUTDOWN_DELAY_MS: '300',
        SHUTDOWN_GRACE_MS: '300',
        LOG_LEVEL: 'info',
        // Every span waits for the drain: only the shutdown sends them.
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url.replace(/\/v1\/traces$/, ''),
        OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20collector-secret-token',
        OTEL_BSP_SCHEDULE_DELAY: '3600000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new Promise((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output.push(chunk.toString());
        const match = /(http:\/\/[\d.]+:\d+)\/graphql/.exec(output.join(''));
        if (match?.[1]) resolve(match[1]);
      };
      child?.stdout?.on('data', onData);
      child?.stderr?.on('data', onData);
      child?.once('exit', (code) => reject(new Error(`exited with ${code}:\n${output.join('')}`)));
    });
  }

  it('turns not ready at once, ends open streams (SSE, WebSocket, REST) with a coded event, flushes the ledger and exits 0, a second SIGTERM notwithstanding', async () => {
    stub.on('POST', '/completions', (_req, res, request) => {
      if ((request.json as { stream?: boolean }).stream !== true) {
        reply.recorded('openai-nonstream-basic.json')(_req, res, request);
        return;
      }
      // One chunk, then silence: the stream is open when the signal comes.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(firstChunk);
    });
    const origin = await start();
    const paid = await fetch(`${origin}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: createCompletion, variables: { input } }),
    });
    expect(((await paid.json()) as { data: unknown }).data).toBeTruthy();

    const stream = await fetch(`${origin}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: completionStream, variables: { input } }),
    });
    const reader = stream.body?.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes('event: next'))
      text += decoder.decode((await reader?.read())?.value ?? new Uint8Array());

    // A stream of the REST face, open too.
    const restStream = await fetch(`${origin}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: input.model, prompt: 'Hi', stream: true }),
    });
    const restReader = restStream.body?.getReader();
    let restText = '';
    while (!restText.includes('data: '))
      restText += decoder.decode((await restReader?.read())?.value ?? new Uint8Array());

    // And one over WebSocket.
    const ws = wsClient(`${origin}/graphql`);
    const wsEvents: unknown[] = [];
    let wsFirst: () => void = () => {};
    const wsStarted = new Promise<void>((resolve) => {
      wsFirst = resolve;
    });
    const wsOutcome = new Promise<unknown>((resolve) => {
      ws.subscribe(
        completionStream,
        { input },
        {
          next: (value) => {
            wsEvents.push(value);
            wsFirst();
          },
          error: (error) => resolve(error instanceof Error ? { message: error.message } : error),
          complete: () => resolve(undefined),
        },
      );
    });
    await wsStarted;

    const exited = once(child as ChildProcess, 'exit');
    child?.kill('SIGTERM');
    await expect.poll(async () => (await readyz(origin)).status).toBe(503);
    // An impatient orchestrator signals again: the drain goes on, nothing is cut short.
    child?.kill('SIGTERM');
    for (;;) {
      const chunk = await reader?.read();
      if (chunk === undefined || chunk.done) break;
      text += decoder.decode(chunk.value);
    }
    expect(text).toMatch(/"code":"SHUTTING_DOWN"/);
    for (;;) {
      const chunk = await restReader?.read();
      if (chunk === undefined || chunk.done) break;
      restText += decoder.decode(chunk.value);
    }
    expect(restText).toMatch(/"message":"The server is shutting down; reconnect to continue."/);
    // graphql-ws gives a coded error as the stream's error (an `error` message), or as a last event.
    const wsEnd = await wsOutcome;
    expect(JSON.stringify([wsEvents.at(-1), wsEnd])).toMatch(/"code":"SHUTTING_DOWN"/);
    expect(text.trimEnd().endsWith('event: complete\ndata:')).toBe(true);
    const [code] = await exited;
    expect(code).toBe(0);

    // The paid calls (the completion, the three streams) were in the ledger before storage closed.
    const storage = await createStorage({ sqlitePath });
    const usage = await storage.usage.forClient('anonymous');
    await storage.close();
    expect(usage.reduce((sum, row) => sum + row.requests, 0)).toBe(4);

    // The spans of every operation, the streams cut by the drain included, were sent before the
    // exit, with the collector's header, which no log line shows.
    const names = collector.spans().map((span) => span.name);
    expect(names.filter((name) => name.startsWith('text_completion'))).toHaveLength(4);
    expect(names).toContain('POST /v1/completions');
    expect(names.filter((name) => name.startsWith('subscription'))).toHaveLength(2);
    expect(collector.headers.map((headers) => headers.authorization)).toContain(
      'Bearer collector-secret-token',
    );
    expect(output.join('')).toMatch(/traces to http:\/\/127\.0\.0\.1:\d+ \(OTLP\/HTTP protobuf/);
    expect(output.join('')).not.toContain('collector-secret-token');
  }, 60_000);
});
