import type { Server } from 'node:http';
import type { ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { type WebSocket, WebSocketServer } from 'ws';
import type { ClientAuthenticator } from '../auth/client-keys.js';
import { type Caller, upstreamKeyHeader } from '../request-context.js';
import type { CompletionsYoga } from '../yoga.js';

/**
 * GraphQL over WebSocket (the `graphql-ws` protocol) on the same port and path as HTTP. Operations
 * go through yoga's envelop, so they get the same plugins, limits and error masking as HTTP.
 */

interface EnvelopedRoot {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
}

export interface WebSocketTransport {
  close(): Promise<void>;
}

/**
 * One signal per socket, shared by its operations: closing the socket cancels their upstream calls.
 * (A single unsubscribed operation is cancelled by its iterator's return(), which graphql-ws calls.)
 */
const socketSignals = new WeakMap<WebSocket, AbortSignal>();

function socketSignal(socket: WebSocket): AbortSignal {
  let signal = socketSignals.get(socket);
  if (signal === undefined) {
    const controller = new AbortController();
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

export function attachWebSocket(
  server: Server,
  yoga: CompletionsYoga,
  authenticator: ClientAuthenticator,
): WebSocketTransport {
  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint });
  const disposable = useServer(
    {
      // With client keys configured, a connection without a valid one is closed (4403) at init.
      onConnect: (context) =>
        authenticator.authenticate(
          connectionParam(context.connectionParams, 'authorization') ??
            context.extra.request.headers.authorization,
        ).ok,
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
      onSubscribe: async (context, _id, payload) => {
        const caller: Caller = {
          signal: socketSignal(context.extra.socket),
          authorization:
            connectionParam(context.connectionParams, 'authorization') ??
            context.extra.request.headers.authorization,
          upstreamApiKey: connectionParam(context.connectionParams, upstreamKeyHeader),
        };
        const enveloped = yoga.getEnveloped({
          ...context,
          req: context.extra.request,
          caller,
          params: payload,
        });
        const args: ExecutionArgs = {
          schema: enveloped.schema,
          operationName: payload.operationName ?? null,
          document: enveloped.parse(payload.query),
          variableValues: payload.variables ?? null,
          contextValue: await enveloped.contextFactory(),
          rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe } satisfies EnvelopedRoot,
        };
        const errors = enveloped.validate(args.schema, args.document);
        return errors.length > 0 ? errors : args;
      },
    },
    wss,
  );
  return {
    async close() {
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
