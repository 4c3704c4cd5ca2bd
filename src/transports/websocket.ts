import type { Server } from 'node:http';
import type { ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
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

export function attachWebSocket(server: Server, yoga: CompletionsYoga): WebSocketTransport {
  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint });
  const disposable = useServer(
    {
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
      onSubscribe: async (context, _id, payload) => {
        // The socket's lifetime is the operations' lifetime: closing it cancels their upstream calls.
        const controller = new AbortController();
        context.extra.socket.once('close', () => controller.abort());
        const enveloped = yoga.getEnveloped({
          ...context,
          req: context.extra.request,
          signal: controller.signal,
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
