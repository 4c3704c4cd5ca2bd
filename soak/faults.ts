/**
 * What the soak's stub upstream answers: the recorded OpenAI bodies when healthy, and the faults it
 * injects instead. Each fault says which requests it fits: a non-streamed completion (`json`), a
 * streamed one (`stream`) or the model list (`models`).
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { faultSizes } from './config.js';

export type RequestKind = 'json' | 'stream' | 'models';
export type Answer = (req: IncomingMessage, res: ServerResponse) => void;

export interface Fault {
  name: string;
  kinds: readonly RequestKind[];
  answer: Answer;
}

const recordedDir = new URL('../test/fixtures/upstream/', import.meta.url);
const recorded = (name: string) => readFileSync(new URL(name, recordedDir));

const completionBody = recorded('openai-nonstream-basic.json');
const rateLimitBody = recorded('openai-error-429-rate-limit.json');
const sseEvents = recorded('openai-stream-basic.sse')
  .toString('utf8')
  .split('\n\n')
  .filter((event) => event.trim() !== '')
  .map((event) => `${event}\n\n`);
const contentEvents = sseEvents.filter((event) => !event.includes('[DONE]'));
const modelsBody = Buffer.from(
  JSON.stringify({
    object: 'list',
    data: ['gpt-3.5-turbo-instruct', 'davinci-002', 'babbage-002'].map((id) => ({
      id,
      object: 'model',
      created: 1692901427,
      owned_by: 'system',
    })),
  }),
);
const serverErrorBody = JSON.stringify({
  error: {
    message: 'The server had an error while processing your request. Sorry about that!',
    type: 'server_error',
    param: null,
    code: null,
  },
});
/** A valid completion whose text makes it larger than the service accepts. */
const oversizeBody = (() => {
  const json = JSON.parse(completionBody.toString('utf8')) as { choices: { text: string }[] };
  const choice = json.choices[0];
  if (choice !== undefined) choice.text = 'x'.repeat(faultSizes.oversizeBytes);
  return Buffer.from(JSON.stringify(json));
})();

const jsonHeaders = (length: number) => ({
  'content-type': 'application/json',
  'content-length': String(length),
  'x-request-id': 'req_soak',
});

function send(res: ServerResponse, status: number, body: Buffer | string, type = 'application/json'): void {
  res.writeHead(status, { ...jsonHeaders(Buffer.byteLength(body)), 'content-type': type });
  res.end(body);
}

/** Writes `events` 2 ms apart, then calls `after` (unless the connection went away). */
function writeEvents(res: ServerResponse, events: readonly string[], after: () => void): void {
  if (!res.headersSent)
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  let next = 0;
  const tick = () => {
    if (res.destroyed) return;
    const event = events[next++];
    if (event === undefined) return after();
    res.write(event);
    setTimeout(tick, 2);
  };
  tick();
}

/** Keeps the answer open, but never longer than `hangLimitMs`: the service should give up first. */
function holdOpen(res: ServerResponse): void {
  const timer = setTimeout(() => res.destroy(), faultSizes.hangLimitMs);
  res.once('close', () => clearTimeout(timer));
}

const half = (body: Buffer) => body.subarray(0, Math.floor(body.length / 2));

/**
 * The recorded completion under a fresh id each time: stored completions are keyed by id, and the
 * cross-client reads need each honest record to be a distinct one.
 */
const completionText = completionBody.toString('utf8');
const recordedId = (JSON.parse(completionText) as { id: string }).id;
let answered = 0;
const freshCompletion = () => completionText.replace(recordedId, `cmpl-soak${++answered}`);

/** The healthy answer for each kind of request. */
export const healthy: Record<RequestKind, Answer> = {
  json: (_req, res) => send(res, 200, freshCompletion()),
  models: (_req, res) => send(res, 200, modelsBody),
  stream: (_req, res) => writeEvents(res, sseEvents, () => res.end()),
};

const bodyFor = (req: IncomingMessage) => (req.method === 'GET' ? modelsBody : completionBody);
const all: readonly RequestKind[] = ['json', 'stream', 'models'];
const whole: readonly RequestKind[] = ['json', 'models'];

export const faults: readonly Fault[] = [
  {
    name: '429 retry-after-ms',
    kinds: all,
    answer: (_req, res) => {
      res.writeHead(429, {
        ...jsonHeaders(rateLimitBody.length),
        'retry-after-ms': String(faultSizes.retryAfterMs),
      });
      res.end(rateLimitBody);
    },
  },
  { name: '500', kinds: all, answer: (_req, res) => send(res, 500, serverErrorBody) },
  { name: '503', kinds: all, answer: (_req, res) => send(res, 503, serverErrorBody) },
  { name: 'reset before headers', kinds: all, answer: (req) => req.socket.resetAndDestroy() },
  {
    name: 'reset mid-body',
    kinds: whole,
    answer: (req, res) => {
      const body = bodyFor(req);
      res.writeHead(200, jsonHeaders(body.length));
      res.write(half(body));
      setTimeout(() => req.socket.resetAndDestroy(), 10);
    },
  },
  {
    name: 'truncated body',
    kinds: whole,
    answer: (req, res) => {
      // Headers promise more than is sent; then the connection closes cleanly (FIN, not RST).
      const body = bodyFor(req);
      res.writeHead(200, jsonHeaders(body.length * 2));
      res.write(body);
      setTimeout(() => req.socket.end(), 10);
    },
  },
  { name: 'malformed JSON', kinds: whole, answer: (req, res) => send(res, 200, half(bodyFor(req))) },
  { name: 'text/plain', kinds: all, answer: (_req, res) => send(res, 200, 'All good!', 'text/plain') },
  {
    name: 'empty body',
    kinds: all,
    answer: (req, res) =>
      send(
        res,
        200,
        '',
        (req.headers.accept ?? '').includes('text/event-stream') ? 'text/event-stream' : 'application/json',
      ),
  },
  { name: 'over size cap', kinds: whole, answer: (_req, res) => send(res, 200, oversizeBody) },
  { name: 'no answer (hang)', kinds: all, answer: (_req, res) => holdOpen(res) },
  {
    name: 'stream cut without [DONE]',
    kinds: ['stream'],
    answer: (_req, res) => writeEvents(res, contentEvents.slice(0, 3), () => res.end()),
  },
  {
    name: 'stream reset',
    kinds: ['stream'],
    answer: (req, res) => writeEvents(res, contentEvents.slice(0, 3), () => req.socket.resetAndDestroy()),
  },
  {
    name: 'stream error event',
    kinds: ['stream'],
    answer: (_req, res) =>
      writeEvents(res, [...contentEvents.slice(0, 2), `data: ${serverErrorBody}\n\n`], () => res.end()),
  },
  {
    name: 'stream malformed chunk',
    kinds: ['stream'],
    answer: (_req, res) =>
      writeEvents(
        res,
        [...contentEvents.slice(0, 2), 'data: {"id":"cmpl-C47M0QMQ\n\n', 'data: [DONE]\n\n'],
        () => res.end(),
      ),
  },
  {
    name: 'stream stall',
    kinds: ['stream'],
    answer: (_req, res) => writeEvents(res, contentEvents.slice(0, 2), () => holdOpen(res)),
  },
];

export function faultsFor(kind: RequestKind): Fault[] {
  return faults.filter((fault) => fault.kinds.includes(kind));
}
