import type { IncomingMessage, Server } from 'node:http';
import { type DocumentNode, type ExecutionArgs, GraphQLError } from 'graphql';
import { CloseCode, handleProtocols, makeServer } from 'graphql-ws';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { LightAbortController } from '../abort.js';
import type { Client, ClientAuthenticator } from '../auth/client-keys.js';
import { errorCodes } from '../errors.js';
import { type CorsPolicy, mayUpgrade } from '../http/cors.js';
import { operationRequestId } from '../http/request-id.js';
import { type PersistedDocuments, streamRefusal } from '../plugins/persisted-documents.js';
import { type Caller, upstreamKeyHeader } from '../request-context.js';
import { extended } from '../runtime/objects.js';
import type { CompletionsYoga } from '../yoga.js';
import { publicResult } from './graphql-params.js';

/**
 * GraphQL over WebSocket (the `graphql-ws` protocol) on the same port and path as HTTP. Operations
 * go through yoga's envelop, so they get the same plugins, limits and error masking as HTTP.
 *
 * graphql-ws's core (`makeServer`) is driven here rather than through its `ws` adapter so that a
 * frame's size is judged before anything parses it: an unauthenticated peer must not be able to
 * make the server buffer or JSON-parse megabytes.
 */

export interface WebSocketDeps {
  yoga: CompletionsYoga;
  /** Trusted and learnt documents: the same rules as over HTTP. */
  documents: PersistedDocuments;
  authenticator: ClientAuthenticator;
  /** Which pages may open a socket: browsers send `Origin` on every handshake, never a preflight. */
  cors: CorsPolicy;
  /** The HTTP body cap: ws refuses a larger frame (1009) from its header, before buffering it. */
  maxPayloadBytes: number;
  /** A socket that sends no connection_init within this is closed (4408). */
  initTimeoutMs: number;
  /** Operations running at once on one socket; one more is answered with an error. */
  maxOperationsPerSocket?: number;
}

export interface WebSocketTransport {
  close(): Promise<void>;
  /** WebSocket connections open now. */
  readonly connections: number;
}

/** A connection_init carrying an Authorization param is a few hundred bytes. */
export const MAX_FRAME_BEFORE_ACK_BYTES = 16 * 1024;
const DEFAULT_MAX_OPERATIONS_PER_SOCKET = 100;
/** A peer that answers no ping within this is gone; graphql-ws's own adapter uses the same pace. */
const KEEP_ALIVE_MS = 12_000;

type Extra = {
  socket: WebSocket;
  request: IncomingMessage;
  acknowledged: boolean;
  client?: Client;
  /** Operations started on this connection (numbers the ones whose client-chosen id is not sane). */
  operations: number;
};

interface EnvelopedRoot {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
}

/**
 * One signal per socket, shared by its operations: closing the socket cancels their upstream calls.
 * (A single unsubscribed operation is cancelled by its iterator's return(), which graphql-ws calls.)
 */
const socketSignals = new WeakMap<WebSocket, AbortSignal>();

function socketSignal(socket: WebSocket): AbortSignal {
  let signal = socketSignals.get(socket);
  if (signal === undefined) {
    const controller = new LightAbortController();
    socket.once('close', () => controller.abort());
    signal = controller.signal;
    socketSignals.set(socket, signal);
  }
  return signal;
}

/** A connection parameter, matched case-insensitively (clients send `Authorization` or `authorization`). */
function connectionParam(
  params: Readonly<Record<string, unknown>> | undefined,
  name: string,
): string | undefined {
  const entry = Object.entries(params ?? {}).find(([key]) => key.toLowerCase() === name);
  return typeof entry?.[1] === 'string' ? entry[1] : undefined;
}

function byteLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((sum, part) => sum + part.length, 0);
  return data.byteLength;
}

export function attachWebSocket(server: Server, deps: WebSocketDeps): WebSocketTransport {
  const { yoga, authenticator } = deps;
  const maxOperations = deps.maxOperationsPerSocket ?? DEFAULT_MAX_OPERATIONS_PER_SOCKET;
  const wss = new WebSocketServer({
    server,
    path: yoga.graphqlEndpoint,
    maxPayload: deps.maxPayloadBytes,
    handleProtocols: (protocols) => handleProtocols(protocols),
    verifyClient: ({ req }, accept) =>
      mayUpgrade(deps.cors, req) ? accept(true) : accept(false, 403, 'Origin not allowed'),
  });
  // ws re-emits the HTTP server's errors (a port in use) here; whoever listens says them there.
  wss.on('error', () => {});
  const graphqlWs = makeServer<Record<string, unknown>, Extra>({
    connectionInitWaitTimeout: deps.initTimeoutMs,
    // With client keys configured, a connection without a valid one is closed (4403) at init.
    onConnect: (context) => {
      const auth = authenticator.authenticate(
        connectionParam(context.connectionParams, 'authorization') ??
          context.extra.request.headers.authorization,
      );
      // Authenticated once per connection; every operation on it runs as this client.
      if (auth.ok) context.extra.client = auth.client;
      context.extra.acknowledged = auth.ok;
      return auth.ok;
    },
    // Each result as the HTTP transports send it: its request id, no internal extensions.
    onNext: (_context, _id, _payload, args, result) =>
      publicResult(result, (args.contextValue as { requestId?: string }).requestId),
    onError: (_context, _id, _payload, errors) => publicResult({ errors }).errors ?? [],
    execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
    subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
    onSubscribe: async (context, id, payload) => {
      // graphql-ws has already registered this operation, so the count includes it.
      if (Object.keys(context.subscriptions).length > maxOperations) {
        return [
          new GraphQLError(`At most ${maxOperations} operations can run at once on one connection.`, {
            extensions: { code: errorCodes.tooManyOperations },
          }),
        ];
      }
      const resolved = deps.documents.resolve(payload);
      if ('error' in resolved) return [streamRefusal(resolved.error)];
      const caller: Caller = {
        signal: socketSignal(context.extra.socket),
        client: context.extra.client,
        // The connection's id (from its upgrade request), per operation.
        requestId: operationRequestId(context.extra.request, id, ++context.extra.operations),
        upstreamApiKey: connectionParam(context.connectionParams, upstreamKeyHeader),
      };
      const enveloped = yoga.getEnveloped(
        extended(context, { req: context.extra.request, caller, params: payload }),
      );
      let document: DocumentNode;
      try {
        document = enveloped.parse(resolved.query);
      } catch (error) {
        // A syntax error or a GraphQL Armor refusal is the operation's error, not the socket's.
        if (error instanceof GraphQLError) return [error];
        throw error;
      }
      const args: ExecutionArgs = {
        schema: enveloped.schema,
        operationName: payload.operationName ?? null,
        document,
        variableValues: payload.variables ?? null,
        contextValue: await enveloped.contextFactory(),
        rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe } satisfies EnvelopedRoot,
      };
      const errors = enveloped.validate(args.schema, args.document);
      return errors.length > 0 ? errors : args;
    },
  });

  wss.on('connection', (socket, request) => {
    // ws has already answered a protocol error or an oversized frame with its close code (1002,
    // 1009); without a listener the error would crash the process.
    socket.on('error', () => {});
    const extra: Extra = { socket, request, acknowledged: false, operations: 0 };
    const closed = graphqlWs.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise((resolve, reject) => {
            if (socket.readyState !== socket.OPEN) return resolve();
            socket.send(data, (error) => (error ? reject(error) : resolve()));
          }),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (handle) =>
          socket.on('message', (data) => {
            if (!extra.acknowledged && byteLength(data) > MAX_FRAME_BEFORE_ACK_BYTES) {
              socket.close(1009, 'Message too big before connection_ack');
              return;
            }
            handle(String(data)).catch(() =>
              socket.close(CloseCode.InternalServerError, 'Internal server error'),
            );
          }),
      },
      extra,
    );
    let pongWait: NodeJS.Timeout | undefined;
    const keepAlive = setInterval(() => {
      if (socket.readyState !== socket.OPEN) return;
      pongWait = setTimeout(() => socket.terminate(), KEEP_ALIVE_MS);
      socket.once('pong', () => clearTimeout(pongWait));
      socket.ping();
    }, KEEP_ALIVE_MS);
    socket.once('close', (code, reason) => {
      clearInterval(keepAlive);
      clearTimeout(pongWait);
      void closed(code, String(reason)).catch(() => {});
    });
  });

  return {
    get connections() {
      return wss.clients.size;
    },
    async close() {
      for (const client of wss.clients) client.close(1001, 'Going away');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
