import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { recorded } from './recorded.js';

/**
 * A real HTTP server on 127.0.0.1 standing in for an OpenAI-compatible upstream. Tests script
 * each route's answers (recorded bodies, faults) and read back what the upstream received.
 */

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  json: unknown;
}

export type StubHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  recorded: RecordedRequest,
) => void | Promise<void>;

export interface StubUpstream {
  /** Base URL including `/v1`, as OPENAI_BASE_URL expects. */
  baseUrl: string;
  requests: RecordedRequest[];
  hits(path?: string): number;
  /** Answers the next calls to `path` in order; the last handler repeats. */
  on(method: string, path: string, ...handlers: StubHandler[]): void;
  /** Requests whose connection closed before the stub finished answering (client abort). */
  closedConnections: number;
  /** TCP connections accepted so far: keep-alive reuse keeps this low. */
  connectionsOpened: number;
  /** `performance.now()` of the last such close. */
  lastClosedAt: number;
  close(): Promise<void>;
}

export const canaryKey = 'sk-canary-0123456789abcdefCANARY';

export async function startStubUpstream(): Promise<StubUpstream> {
  const routes = new Map<string, StubHandler[]>();
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const stub: StubUpstream = {
    baseUrl: '',
    requests,
    closedConnections: 0,
    connectionsOpened: 0,
    lastClosedAt: 0,
    hits: (path) => requests.filter((r) => path === undefined || r.path === path).length,
    on(method, path, ...handlers) {
      routes.set(`${method} ${path}`, handlers);
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };

  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const path = (req.url ?? '/').replace(/^\/v1/, '').split('?')[0] ?? '/';
    let json: unknown;
    try {
      json = body === '' ? undefined : JSON.parse(body);
    } catch {
      json = undefined;
    }
    const recorded: RecordedRequest = { method: req.method ?? 'GET', path, headers: req.headers, body, json };
    requests.push(recorded);
    res.on('close', () => {
      if (!res.writableFinished) {
        stub.closedConnections++;
        stub.lastClosedAt = performance.now();
      }
    });
    const handlers = routes.get(`${recorded.method} ${path}`);
    const handler = handlers?.length === 1 ? handlers[0] : handlers?.shift();
    if (handler === undefined) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: { message: `no stub for ${recorded.method} ${path}`, type: 'stub', param: null, code: null },
        }),
      );
      return;
    }
    await handler(req, res, recorded);
  });
  server.on('connection', (socket) => {
    stub.connectionsOpened++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stub.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return stub;
}

/** Common answers. */
export const reply = {
  json:
    (status: number, body: unknown, headers: Record<string, string> = {}): StubHandler =>
    (_req, res) => {
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(text);
    },
  /** A recorded upstream body, byte for byte: JSON, or SSE for a `.sse` file. */
  recorded: (name: string, headers: Record<string, string> = {}): StubHandler =>
    reply.raw(200, recorded(name), {
      'content-type': name.endsWith('.sse') ? 'text/event-stream' : 'application/json',
      ...headers,
    }),
  /** The recorded completion, as a stream when the request asked for one. */
  completionOrStream: (): StubHandler => (req, res, request) =>
    (request.json as { stream?: boolean } | undefined)?.stream === true
      ? reply.recorded('openai-stream-basic.sse')(req, res, request)
      : reply.recorded('openai-nonstream-basic.json')(req, res, request),
  /** `GET /models` listing these ids. */
  models: (...ids: string[]): StubHandler =>
    reply.json(200, {
      object: 'list',
      data: ids.map((id) => ({ id, object: 'model', created: 1, owned_by: 'system' })),
    }),
  raw:
    (status: number, body: string, headers: Record<string, string>): StubHandler =>
    (_req, res) => {
      res.writeHead(status, headers);
      res.end(body);
    },
  sse:
    (events: string[], options: { delayMs?: number; headers?: Record<string, string> } = {}): StubHandler =>
    async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', ...options.headers });
      for (const event of events) {
        if (res.destroyed) return;
        res.write(event);
        if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
      }
      res.end();
    },
  /** Drops the connection before sending any response. */
  resetBeforeHeaders: (): StubHandler => (req) => {
    req.socket.destroy();
  },
  /** Sends headers and part of the body, then drops the connection. */
  resetMidBody:
    (partial: string): StubHandler =>
    (_req, res) => {
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': String(partial.length * 4),
      });
      res.write(partial);
      setTimeout(() => res.socket?.destroy(), 10);
    },
  /** Never answers; the connection stays open until the client gives up. */
  hang: (): StubHandler => () => {},
};
