import type { ServerResponse } from 'node:http';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completionStream } from '../helpers/operations.js';
import { type StubUpstream, startStubUpstream } from '../helpers/stub-upstream.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * A client that stops reading must slow the upstream down, not fill the service's memory: the
 * service pulls a chunk from the upstream only when the client has taken the previous one.
 */

function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done).off('close', done);
      resolve();
    };
    res.on('drain', done).on('close', done);
  });
}

let stub: StubUpstream;
let app: TestApp;
let upstreamBytes = 0;
/** True while the upstream waits for its socket to drain, i.e. while nobody is taking its bytes. */
let upstreamBlocked = false;

/**
 * Lets the event loop go round `turns` times. The service, its upstream and the client all live in
 * this process, so bytes a socket can take get read within a few turns: counting turns instead of
 * milliseconds gives the service the same chance to misbehave however busy the machine is.
 */
async function eventLoopTurns(turns: number): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** The upstream is held back for good: blocked, and not one byte further after many turns. */
async function upstreamHeldBack(): Promise<boolean> {
  const bytes = upstreamBytes;
  await eventLoopTurns(200);
  return upstreamBlocked && upstreamBytes === bytes;
}

const chunk = (i: number) =>
  `data: ${JSON.stringify({ id: 'cmpl-bp', object: 'text_completion', created: 1, model: 'm', choices: [{ text: `piece ${i} ${'x'.repeat(8_000)}`, index: 0, logprobs: null, finish_reason: null }] })}\n\n`;

beforeAll(async () => {
  stub = await startStubUpstream();
  // An upstream that produces as fast as its socket accepts, up to 100 MB.
  stub.on('POST', '/completions', async (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (let i = 0; upstreamBytes < 100 * 1024 * 1024 && !res.destroyed; i++) {
      const piece = chunk(i);
      upstreamBytes += piece.length;
      if (!res.write(piece)) {
        upstreamBlocked = true;
        await drainedOrClosed(res);
        upstreamBlocked = false;
      }
    }
    res.end();
  });
  // The stream's byte cap is set far above what the test pulls, so only backpressure can stop it.
  app = await startTestApp({
    upstream: { baseUrl: stub.baseUrl, stream: { idleMs: 10_000 }, maxResponseBytes: 1024 * 1024 * 1024 },
  });
});

afterAll(async () => {
  await app.close();
  await stub.close();
});

describe('a slow reader', () => {
  it('holds the upstream back: bounded bytes pulled while the client reads nothing', async () => {
    const response = await request(app.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({
        query: completionStream,
        variables: { input: { model: 'm', prompt: { text: 'go' }, maxTokens: 10_000 } },
      }),
    });
    expect(response.statusCode).toBe(200);
    const heapBefore = process.memoryUsage().heapUsed;
    // Unthrottled, the service would keep reading until the upstream had written all 100 MB and
    // ended, so the upstream would never stay blocked and this poll would time out.
    await expect.poll(upstreamHeldBack, { timeout: 15_000, interval: 0 }).toBe(true);
    const pulledWhilePaused = upstreamBytes;
    console.info(`upstream bytes pulled while the client read nothing: ${pulledWhilePaused}`);
    // Socket buffers and one chunk in flight hold a few MB.
    expect(pulledWhilePaused).toBeLessThan(16 * 1024 * 1024);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 1024 * 1024);

    // Reading again lets it flow again.
    let read = 0;
    for await (const piece of response.body) {
      read += (piece as Buffer).length;
      if (upstreamBytes > pulledWhilePaused || read > 32 * 1024 * 1024) break;
    }
    expect(upstreamBytes).toBeGreaterThan(pulledWhilePaused);
    response.body.destroy();
    await expect.poll(() => stub.closedConnections, { timeout: 2_000 }).toBeGreaterThanOrEqual(1);
  });
});
