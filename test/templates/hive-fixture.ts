import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGatewayRuntime, type GatewayConfigBase } from '@graphql-hive/gateway-runtime';
import { type DocumentNode, type ExecutionResult, print } from 'graphql';
import type { StubbedApp } from '../helpers/test-app.js';
import { type ProductsSubgraph, tokens } from './products-subgraph.js';

/**
 * The Hive gateway runtime on node:http in front of the test `products` subgraph and the completions
 * subgraph, composed by the runtime itself (`supergraph: { type: 'dev' }`: `_service { sdl }` of
 * each, then `@theguild/federation-composition`). It forwards each client's `Authorization`
 * (`propagateHeaders.fromClientToSubgraphs`); its own key serves composition only.
 */

type Transports = NonNullable<GatewayConfigBase<Record<string, unknown>>['transports']>;
type Transport = Extract<
  Awaited<Extract<Transports, Record<string, unknown>>[string]>,
  { getSubgraphExecutor: unknown }
>;
type Config = Parameters<typeof createGatewayRuntime>[0];

export interface HiveOptions {
  /**
   * Send subgraph requests with the fetch the runtime hands the transport, so its plugins' fetch
   * hooks (the response cache reading Cache-Control) see them; the global fetch otherwise.
   */
  viaRuntimeFetch?: boolean;
  /** Told each subgraph request the transport sends. */
  onSend?: (subgraph: string) => void;
  /** More runtime configuration (response caching, a cache store). */
  config?: Partial<Config>;
}

/**
 * Queries and mutations as POST application/json, with the headers the gateway's plugins put in
 * the request's `extensions.headers` (where `propagateHeaders` leaves the client's Authorization),
 * as `@graphql-mesh/transport-http` sends them (the runtime does not ship that package).
 */
function jsonHttpTransport(options: HiveOptions): Transport {
  return {
    getSubgraphExecutor({ transportEntry, fetch: runtimeFetch }) {
      const url = transportEntry.location;
      if (url === undefined) throw new Error(`subgraph ${transportEntry.subgraph} has no URL`);
      if (options.viaRuntimeFetch && runtimeFetch === undefined) throw new Error('the runtime gave no fetch');
      return ((request: {
        document: DocumentNode;
        variables?: Record<string, unknown>;
        operationName?: string;
        extensions?: { headers?: Record<string, string> };
        signal?: AbortSignal;
        context?: unknown;
        info?: unknown;
      }): Promise<ExecutionResult> => {
        options.onSend?.(transportEntry.subgraph);
        const init = {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/graphql-response+json',
            ...request.extensions?.headers,
          },
          body: JSON.stringify({
            query: print(request.document),
            variables: request.variables ?? {},
            ...(request.operationName ? { operationName: request.operationName } : {}),
          }),
          ...(request.signal ? { signal: request.signal } : {}),
        };
        const sent =
          options.viaRuntimeFetch && runtimeFetch !== undefined
            ? Promise.resolve(runtimeFetch(url, init, request.context as never, request.info as never))
            : fetch(url, init);
        return sent.then((response) => response.json() as Promise<ExecutionResult>);
      }) as never;
    },
  };
}

/** The runtime's own fetches (composition's `_service { sdl }`) carry the gateway's key; a client's its own. */
const gatewayFetch = (input: string | URL | Request, init?: RequestInit) => {
  const headers = new Headers(init?.headers);
  if (!headers.has('authorization')) headers.set('authorization', `Bearer ${tokens.gateway}`);
  return fetch(input, { ...init, headers });
};

export async function startHiveGateway(
  products: ProductsSubgraph,
  completions: StubbedApp,
  options: HiveOptions = {},
): Promise<{ url: string; close: () => Promise<void> }> {
  const runtime = createGatewayRuntime({
    supergraph: {
      type: 'dev',
      services: [
        { name: 'products', url: products.url },
        { name: 'completions', url: completions.app.graphqlUrl },
      ],
    },
    transports: { http: jsonHttpTransport(options) },
    fetchAPI: { fetch: gatewayFetch as never },
    propagateHeaders: {
      fromClientToSubgraphs: ({ request }) => {
        const authorization = request.headers.get('authorization');
        return authorization === null ? {} : { authorization };
      },
    },
    logging: false,
    ...options.config,
  } as Config);
  const server = createServer(runtime);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await runtime.dispose();
    },
  };
}
