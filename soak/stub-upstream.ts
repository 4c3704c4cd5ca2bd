/**
 * The soak's fault-injecting upstream, run as its own process (`startChild(new URL('./stub-upstream.ts', import.meta.url))`).
 * Answers `POST /v1/completions` (JSON, or SSE with `stream: true`) and `GET /v1/models` from the
 * recorded bodies, and on `SOAK_FAULT_RATE` of requests answers with a fault drawn at random from
 * those that fit the request (see `faults.ts`). The prompt of each soak request carries a tag
 * (`#soak-<n>`); the answers given to each tag are kept so that a bad outcome can be traced back
 * to what the upstream did (`attempts`). Every hostile prompt carries a marker (`HOSTILE-<n>`): the
 * calls that reached the upstream with one are counted by marker (`hostile`), and must be none.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { serveParent } from '../bench/children.js';
import { soak } from './config.js';
import { type Answer, faultsFor, healthy, type RequestKind } from './faults.js';

const HEALTHY = 'ok';
const choices: Record<RequestKind, ReturnType<typeof faultsFor>> = {
  json: faultsFor('json'),
  stream: faultsFor('stream'),
  models: faultsFor('models'),
};
/** `openAnswers`: answers whose connection has not closed yet (a hang the service never dropped). */
const stats = {
  requests: 0,
  openAnswers: 0,
  byKind: { json: 0, stream: 0, models: 0 },
  answers: {} as Record<string, number>,
};
/** Tag → the answer given to each attempt, in order. */
const attempts = new Map<number, string[]>();
/** Tag → when each attempt arrived (`Date.now()`), to trace slow requests. */
const arrivals = new Map<number, number[]>();
/** Hostile marker → upstream calls whose body carried it. */
const hostile = new Map<number, number>();

function countHostile(body: string): void {
  const markers = new Set([...body.matchAll(/HOSTILE-(\d+)/g)].map((match) => Number(match[1])));
  for (const marker of markers) hostile.set(marker, (hostile.get(marker) ?? 0) + 1);
}

function choose(kind: RequestKind): { name: string; answer: Answer } {
  const options = choices[kind];
  if (Math.random() >= soak.faultRate || options.length === 0)
    return { name: HEALTHY, answer: healthy[kind] };
  const fault = options[Math.floor(Math.random() * options.length)] ?? options[0];
  return fault === undefined
    ? { name: HEALTHY, answer: healthy[kind] }
    : { name: fault.name, answer: fault.answer };
}

function refuse(res: ServerResponse, status: number): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(
    '{"error":{"message":"not served by the soak stub","type":"invalid_request_error","param":null,"code":null}}',
  );
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const path = (req.url ?? '/').split('?')[0];
    const text = Buffer.concat(chunks).toString('utf8');
    countHostile(text);
    let kind: RequestKind;
    let tag: number | undefined;
    if (req.method === 'GET' && path === '/v1/models') kind = 'models';
    else if (req.method === 'POST' && path === '/v1/completions') {
      let body: { stream?: boolean; prompt?: unknown };
      try {
        body = JSON.parse(text) as typeof body;
      } catch {
        return refuse(res, 400);
      }
      kind = body.stream === true ? 'stream' : 'json';
      const match = /#soak-(\d+)/.exec(JSON.stringify(body.prompt ?? ''));
      tag = match?.[1] === undefined ? undefined : Number(match[1]);
    } else return refuse(res, 404);
    stats.requests++;
    stats.byKind[kind]++;
    const { name, answer } = choose(kind);
    stats.answers[name] = (stats.answers[name] ?? 0) + 1;
    if (tag !== undefined) {
      const list = attempts.get(tag);
      arrivals.set(tag, [...(arrivals.get(tag) ?? []), Date.now()]);
      if (list === undefined) attempts.set(tag, [name]);
      else list.push(name);
    }
    stats.openAnswers++;
    res.once('close', () => stats.openAnswers--);
    answer(req, res);
  });
});

const sockets = new Set<Socket>();
server.on('connection', (socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
});
// A reset socket surfaces here as well; it is the point of the exercise, not a stub failure.
server.on('clientError', (_error, socket) => socket.destroy());
server.keepAliveTimeout = 60_000;

server.listen({ port: 0, host: '127.0.0.1', backlog: 2048 }, () => {
  serveParent((server.address() as AddressInfo).port, {
    stats: () => ({ ...stats, openSockets: sockets.size }),
    /** Every tagged request's attempts, as `[tag, answers][]`. */
    attempts: () => [...attempts.entries()],
    /** Upstream calls that carried a hostile marker, as `[marker, calls][]`. */
    hostile: () => [...hostile.entries()],
    /** When the attempts of the given tags arrived. */
    arrivals: (tags) => (tags as number[]).map((tag) => arrivals.get(tag) ?? []),
  });
});
