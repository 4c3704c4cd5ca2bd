/**
 * The bench's stub upstream, run as its own process (`startChild('stub-upstream.ts')`) so its CPU
 * does not count against the clients measured. Answers `POST /v1/completions` from the recorded
 * bodies as fast as it can:
 * - non-streamed: `openai-nonstream-basic.json`, byte for byte; with a prompt array (a batch of
 *   template entity fields), its choice once per prompt (× n), each with its own index;
 * - `stream: true`: the events of `openai-stream-basic.sse`, the first at once and the rest
 *   `BURST_DELAY_MS` apart;
 * - `stream: true` with model `bench-hold`: the first event at once, then one event a second,
 *   never ending, so streams stay open until the client goes away.
 * Counts the held streams it opened and saw closed, and the prompts of batches (`stats`).
 */
import { readFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serveParent } from './children.js';
import { holdModelId } from './workload.js';

const BURST_DELAY_MS = 2;

const recordedDir = new URL('../test/fixtures/upstream/', import.meta.url);
const nonStreamBody = readFileSync(new URL('openai-nonstream-basic.json', recordedDir));
const sseEvents = readFileSync(new URL('openai-stream-basic.sse', recordedDir), 'utf8')
  .split('\n\n')
  .filter((event) => event.trim() !== '')
  .map((event) => Buffer.from(`${event}\n\n`));
const recordedAnswer = JSON.parse(nonStreamBody.toString('utf8')) as {
  choices: Record<string, unknown>[];
  usage: { prompt_tokens: number; completion_tokens: number };
};
const recordedChoice = recordedAnswer.choices[0];
const firstEvent = sseEvents[0] ?? Buffer.from('');
const middleEvent = sseEvents[1] ?? firstEvent;

const stats = { requests: 0, streams: 0, heldOpened: 0, heldClosed: 0, heldOpen: 0, batchedPrompts: 0 };
const jsonHeaders = {
  'content-type': 'application/json',
  'content-length': String(nonStreamBody.length),
  'x-request-id': 'req_bench',
};
const sseHeaders = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    stats.requests++;
    if (req.method !== 'POST' || !req.url?.startsWith('/v1/completions')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"not found","type":"stub","param":null,"code":null}}');
      return;
    }
    const body = Buffer.concat(chunks);
    // Cheap check first: most requests are non-streamed and need no parse.
    if (!body.includes('"stream":true')) {
      if (body.includes('"prompt":[')) {
        batch(res, JSON.parse(body.toString('utf8')) as { prompt: unknown[]; n?: number });
        return;
      }
      res.writeHead(200, jsonHeaders);
      res.end(nonStreamBody);
      return;
    }
    stats.streams++;
    const { model } = JSON.parse(body.toString('utf8')) as { model?: string };
    res.writeHead(200, sseHeaders);
    res.write(firstEvent);
    if (model === holdModelId) hold(res);
    else burst(res);
  });
});

/** A prompt array: the recorded choice once per prompt (× n), indexed `prompt × n + i`, usage scaled. */
function batch(res: ServerResponse, request: { prompt: unknown[]; n?: number }): void {
  const n = request.n ?? 1;
  const prompts = request.prompt.length;
  stats.batchedPrompts += prompts;
  const answer = {
    ...recordedAnswer,
    choices: Array.from({ length: prompts * n }, (_, index) => ({ ...recordedChoice, index })),
    usage: {
      prompt_tokens: recordedAnswer.usage.prompt_tokens * prompts,
      completion_tokens: recordedAnswer.usage.completion_tokens * prompts * n,
      total_tokens:
        (recordedAnswer.usage.prompt_tokens + recordedAnswer.usage.completion_tokens * n) * prompts,
    },
  };
  const text = JSON.stringify(answer);
  res.writeHead(200, { ...jsonHeaders, 'content-length': String(Buffer.byteLength(text)) });
  res.end(text);
}

function burst(res: ServerResponse): void {
  let next = 1;
  const tick = () => {
    if (res.destroyed) return;
    const event = sseEvents[next++];
    if (event === undefined) {
      res.end();
      return;
    }
    res.write(event);
    setTimeout(tick, BURST_DELAY_MS);
  };
  setTimeout(tick, BURST_DELAY_MS);
}

function hold(res: ServerResponse): void {
  stats.heldOpened++;
  stats.heldOpen++;
  const timer = setInterval(() => res.write(middleEvent), 1_000);
  res.once('close', () => {
    clearInterval(timer);
    stats.heldOpen--;
    stats.heldClosed++;
  });
}

server.keepAliveTimeout = 60_000;
server.listen({ port: 0, host: '127.0.0.1', backlog: 2048 }, () => {
  serveParent((server.address() as AddressInfo).port, {
    stats: () => ({ ...stats }),
    cpu: () => process.cpuUsage(),
    reset: () => {
      Object.assign(stats, { requests: 0, streams: 0, heldOpened: 0, heldClosed: 0, batchedPrompts: 0 });
      return true;
    },
  });
});
