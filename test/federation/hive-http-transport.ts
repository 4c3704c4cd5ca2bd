import type { GatewayConfigBase } from '@graphql-hive/gateway-runtime';
import { type DocumentNode, type ExecutionResult, print } from 'graphql';
import { createClient } from 'graphql-sse';

/**
 * A stand-in for `@graphql-mesh/transport-http`, the Hive gateway's default subgraph transport,
 * which `@graphql-hive/gateway-runtime` loads by `import('@graphql-mesh/transport-http')` but does
 * not depend on (the `@graphql-hive/gateway` CLI package does). Without it every subgraph fetch
 * fails with "Cannot find package '@graphql-mesh/transport-http'".
 *
 * Queries and mutations: POST application/json. Subscriptions: GraphQL over SSE (graphql-sse's
 * distinct connections mode, which yoga serves on the subgraph's own /graphql endpoint).
 */

type Transports = NonNullable<GatewayConfigBase<Record<string, unknown>>['transports']>;
type Transport = Extract<
  Awaited<Extract<Transports, Record<string, unknown>>[string]>,
  { getSubgraphExecutor: unknown }
>;

interface Request {
  document: DocumentNode;
  variables?: Record<string, unknown>;
  operationName?: string;
  operationType?: string;
  signal?: AbortSignal;
}

export const sseHttpTransport: Transport = {
  getSubgraphExecutor({ transportEntry }) {
    const url = transportEntry.location;
    if (url === undefined) throw new Error(`subgraph ${transportEntry.subgraph} has no URL`);
    const sse = createClient({ url, retryAttempts: 0 });
    const executor = (request: Request): Promise<ExecutionResult> | AsyncIterable<ExecutionResult> => {
      const body = {
        query: print(request.document),
        variables: request.variables ?? {},
        ...(request.operationName ? { operationName: request.operationName } : {}),
      };
      if (request.operationType === 'subscription') return sse.iterate(body);
      return fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
        body: JSON.stringify(body),
        ...(request.signal ? { signal: request.signal } : {}),
      }).then((response) => response.json() as Promise<ExecutionResult>);
    };
    return Object.assign(executor, { [Symbol.dispose]: () => sse.dispose() }) as never;
  },
};
