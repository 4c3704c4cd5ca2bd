/**
 * How the hostile client talks to the service (GraphQL over HTTP, SSE and WebSocket, the REST face,
 * raw WebSocket frames) and the verdict on each answer: `refused` (a coded refusal, nothing paid
 * came back), `answered` (a paid field, a stored record or an accepted socket came back: the
 * service did what it must not), or `failed` (a 5xx without codes, a body that is not JSON, an
 * uncoded error, no answer: the service misbehaved while refusing).
 */
import { type Dispatcher, request } from 'undici';
import WebSocket from 'ws';
import { client } from './config.js';
import type { GraphQLRequest } from './hostile-attacks.js';

export interface Judged {
  verdict: 'refused' | 'answered' | 'failed';
  /** Error codes, close codes or HTTP statuses that made the verdict. */
  codes: string[];
  detail?: string;
  /** Paid fields, stored records or sockets that came back (foreign reads: records read). */
  records?: number;
  /** Foreign reads: the ids asked for. */
  reads?: number;
}

interface GraphQLResult {
  data?: Record<string, unknown> | null;
  errors?: { message?: string; extensions?: { code?: unknown } }[];
}

const failed = (reason: string, detail = ''): Judged => ({
  verdict: 'failed',
  codes: [reason],
  detail: detail.slice(0, 300),
});

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Non-null values under `data`, across results (a refused operation has none). */
function records(results: readonly GraphQLResult[]): number {
  let count = 0;
  for (const result of results) {
    for (const value of Object.values(result.data ?? {})) {
      if (Array.isArray(value)) count += value.filter((item) => item != null).length;
      else if (value != null) count++;
    }
  }
  return count;
}

/** `nullIsRefusal`: a read that answers null without errors has refused (nothing was found). */
export function judgeResults(results: readonly GraphQLResult[], nullIsRefusal = false): Judged {
  const found = records(results);
  const errors = results.flatMap((result) => (Array.isArray(result.errors) ? result.errors : []));
  const codes = errors.map((error) => error.extensions?.code);
  if (found > 0) return { verdict: 'answered', codes: codes.map(String), records: found };
  if (codes.some((code) => typeof code !== 'string')) {
    return failed(
      'error without a code',
      JSON.stringify(errors[codes.findIndex((c) => typeof c !== 'string')]),
    );
  }
  if (errors.length > 0) return { verdict: 'refused', codes: codes as string[], records: 0 };
  if (nullIsRefusal && results.length > 0) return { verdict: 'refused', codes: ['null'], records: 0 };
  return failed('no data and no errors', JSON.stringify(results));
}

/** A GraphQL-over-SSE body read to its end: the payload of every `next` event. */
async function readEvents(body: AsyncIterable<Buffer>): Promise<GraphQLResult[] | undefined> {
  let text = '';
  for await (const chunk of body) text += chunk.toString('utf8');
  const results: GraphQLResult[] = [];
  for (const event of text.split('\n\n')) {
    const lines = event.split('\n');
    if (!lines.some((line) => line.trim() === 'event: next')) continue;
    const data = lines
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).trimStart())
      .join('\n');
    const value = parse(data);
    if (typeof value !== 'object' || value === null) return undefined;
    results.push(value as GraphQLResult);
  }
  return results;
}

export interface HttpTarget {
  origin: string;
  authorization: string;
  dispatcher: Dispatcher;
}

/** POST /graphql, as JSON (`http`) or asking for an event stream (`sse`). */
export async function overHttp(
  target: HttpTarget,
  body: GraphQLRequest | GraphQLRequest[],
  eventStream: boolean,
  nullIsRefusal = false,
): Promise<Judged> {
  const response = await request(new URL('/graphql', target.origin), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: target.authorization,
      accept: eventStream ? 'text/event-stream' : 'application/graphql-response+json, application/json',
    },
    body: JSON.stringify(body),
    dispatcher: target.dispatcher,
    signal: AbortSignal.timeout(client.timeoutMs),
  });
  if (String(response.headers['content-type'] ?? '').startsWith('text/event-stream')) {
    const results = await readEvents(response.body);
    if (results === undefined) return failed('non-JSON event');
    return judgeResults(results, nullIsRefusal);
  }
  const text = await response.body.text();
  const value = parse(text);
  if (typeof value !== 'object' || value === null)
    return failed(`non-JSON HTTP ${response.statusCode}`, text);
  const judged = judgeResults(Array.isArray(value) ? value : [value as GraphQLResult], nullIsRefusal);
  // A 5xx that still refused with a code ran nothing; the status is worth seeing all the same.
  return response.statusCode >= 500
    ? { ...judged, codes: [...judged.codes, `HTTP ${response.statusCode}`] }
    : judged;
}

/** POST /v1/completions: a refusal is a 4xx with an OpenAI error envelope. */
export async function overRest(target: HttpTarget, body: Record<string, unknown>): Promise<Judged> {
  const response = await request(new URL('/v1/completions', target.origin), {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: target.authorization },
    body: JSON.stringify(body),
    dispatcher: target.dispatcher,
    signal: AbortSignal.timeout(client.timeoutMs),
  });
  const text = await response.body.text();
  if (response.statusCode === 200) return { verdict: 'answered', codes: ['HTTP 200'], records: 1 };
  const error = (parse(text) as { error?: { code?: unknown; type?: unknown } } | undefined)?.error;
  if (response.statusCode >= 500 || error === undefined) return failed(`HTTP ${response.statusCode}`, text);
  return { verdict: 'refused', codes: [String(error.code ?? error.type)], records: 0 };
}

const wsUrl = (origin: string) => `${origin.replace(/^http/, 'ws')}/graphql`;

/**
 * Opens a socket and lets `drive` talk on it; settles with the first verdict, or `failed` when
 * nothing comes within the client timeout. The socket is always torn down.
 */
function onSocket(
  origin: string,
  headers: Record<string, string>,
  drive: (socket: WebSocket, settle: (judged: Judged) => void) => void,
): Promise<Judged> {
  return new Promise((resolve) => {
    const socket = new WebSocket(wsUrl(origin), 'graphql-transport-ws', { headers });
    let done = false;
    const settle = (judged: Judged) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.terminate();
      resolve(judged);
    };
    const timer = setTimeout(
      () => settle(failed('no answer', `within ${client.timeoutMs} ms`)),
      client.timeoutMs,
    );
    socket.on('unexpected-response', (_req, res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      settle(
        status >= 400 && status < 500
          ? { verdict: 'refused', codes: [`HTTP ${status}`] }
          : failed(`HTTP ${status}`),
      );
    });
    // A reset while a large frame is still being written: the service cut the connection.
    socket.on('error', (error: NodeJS.ErrnoException) =>
      settle(
        error.code === 'ECONNRESET' || error.code === 'EPIPE'
          ? { verdict: 'refused', codes: [error.code] }
          : failed('socket error', error.message),
      ),
    );
    drive(socket, settle);
    // After `drive`'s own listeners, which may know better what a close means.
    socket.on('close', (code, reason) => settle(closed(code, String(reason))));
  });
}

/** 1008/1009 and graphql-ws's 44xx are refusals with a reason; 1006, 1011, 4500 are not. */
function closed(code: number, reason: string): Judged {
  const refusal = code === 1008 || code === 1009 || (code >= 4400 && code < 4500);
  return refusal ? { verdict: 'refused', codes: [`close ${code}`] } : failed(`closed ${code}`, reason);
}

type WsMessage = { type?: string; payload?: unknown };

/** One operation over `graphql-transport-ws`, after an acknowledged connection_init. */
export function overWebSocket(
  origin: string,
  authorization: string,
  payload: GraphQLRequest,
): Promise<Judged> {
  return onSocket(origin, {}, (socket, settle) => {
    const results: GraphQLResult[] = [];
    socket.on('open', () =>
      socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization } })),
    );
    socket.on('message', (data) => {
      const message = parse(String(data)) as WsMessage | undefined;
      if (message?.type === 'connection_ack')
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload }));
      else if (message?.type === 'ping') socket.send('{"type":"pong"}');
      else if (message?.type === 'next') results.push(message.payload as GraphQLResult);
      else if (message?.type === 'error')
        settle(judgeResults([...results, { errors: message.payload as [] }]));
      else if (message?.type === 'complete') settle(judgeResults(results));
    });
  });
}

/** A frame sent before connection_init: refused when the service closes (1009) or cuts the socket. */
export function frameBeforeInit(origin: string, frame: Buffer): Promise<Judged> {
  return onSocket(origin, {}, (socket, settle) => {
    socket.on('open', () => socket.send(frame));
    socket.on('message', () => settle({ verdict: 'answered', codes: ['message before init'], records: 1 }));
  });
}

/** An upgrade from a page of another site: refused with 403, before any frame. */
export function foreignOrigin(origin: string): Promise<Judged> {
  return onSocket(origin, { origin: 'https://attacker.example' }, (socket, settle) => {
    socket.on('open', () => settle({ verdict: 'answered', codes: ['upgraded'], records: 1 }));
  });
}
