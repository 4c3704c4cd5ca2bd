import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createGatewayRuntime,
  type GatewayConfigBase,
  type GatewayRuntime,
} from '@graphql-hive/gateway-runtime';
import { type DocumentNode, type ExecutionResult, print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postGraphQL } from '../federation/fixtures.js';
import { type StubbedApp, stopStubbedApp } from '../helpers/test-app.js';
import {
  as,
  catalogue,
  type ProductsSubgraph,
  productsQuery,
  startProductsSubgraph,
  startTemplatesSubgraph,
  taglineQuery,
  tokens,
} from './products-subgraph.js';

/**
 * The Hive gateway's response cache (`responseCaching`, per client session) in front of the
 * composition of hive-gateway.test.ts, its subgraph requests made with the runtime's own fetch so
 * the cache sees each subgraph's Cache-Control: a products query whose aiSummary results are
 * reusable is answered by the gateway the second time (no request reaches the completions
 * subgraph); a sampled template's answer (`no-store, max-age=0`) is never kept.
 */

type Transports = NonNullable<GatewayConfigBase<Record<string, unknown>>['transports']>;
type Transport = Extract<
  Awaited<Extract<Transports, Record<string, unknown>>[string]>,
  { getSubgraphExecutor: unknown }
>;

const sent: Record<string, number> = {};

/** POST application/json through the fetch the runtime hands the transport (its hooks included). */
const runtimeFetchTransport: Transport = {
  getSubgraphExecutor({ transportEntry, fetch: runtimeFetch }) {
    const url = transportEntry.location;
    if (url === undefined || runtimeFetch === undefined) throw new Error('no URL or fetch for the subgraph');
    return ((request: {
      document: DocumentNode;
      variables?: Record<string, unknown>;
      operationName?: string;
      extensions?: { headers?: Record<string, string> };
      context?: unknown;
      info?: unknown;
    }): Promise<ExecutionResult> => {
      sent[transportEntry.subgraph] = (sent[transportEntry.subgraph] ?? 0) + 1;
      return Promise.resolve(
        runtimeFetch(
          url,
          {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              accept: 'application/graphql-response+json',
              ...request.extensions?.headers,
            },
            body: JSON.stringify({ query: print(request.document), variables: request.variables ?? {} }),
          },
          request.context as never,
          request.info as never,
        ),
      ).then((response) => response.json() as Promise<ExecutionResult>);
    }) as never;
  },
};

/** The gateway's cache storage: a Map, each entry kept for the TTL it is given (seconds). */
function memoryCache() {
  const entries = new Map<string, { value: unknown; until: number }>();
  return {
    get: (key: string) => {
      const entry = entries.get(key);
      return entry !== undefined && entry.until > Date.now() ? entry.value : undefined;
    },
    set: (key: string, value: unknown, options?: { ttl?: number | null }) => {
      const ttl = options?.ttl;
      entries.set(key, { value, until: ttl == null ? Number.POSITIVE_INFINITY : Date.now() + ttl * 1000 });
    },
    delete: (key: string) => entries.delete(key),
    getKeysByPrefix: (prefix: string) => [...entries.keys()].filter((key) => key.startsWith(prefix)),
  };
}

let products: ProductsSubgraph;
let completions: StubbedApp;
let runtime: GatewayRuntime;
let server: Server;
let gatewayUrl: string;

beforeAll(async () => {
  products = await startProductsSubgraph();
  completions = await startTemplatesSubgraph();
  runtime = createGatewayRuntime({
    supergraph: {
      type: 'dev',
      services: [
        { name: 'products', url: products.url },
        { name: 'completions', url: completions.app.graphqlUrl },
      ],
    },
    transports: { http: runtimeFetchTransport },
    fetchAPI: {
      fetch: ((input: string | URL | Request, init?: RequestInit) => {
        const headers = new Headers(init?.headers);
        // Composition's `_service { sdl }` carries the gateway's key; a client's request its own.
        if (!headers.has('authorization')) headers.set('authorization', `Bearer ${tokens.gateway}`);
        return fetch(input, { ...init, headers });
      }) as never,
    },
    propagateHeaders: {
      fromClientToSubgraphs: ({ request }) => {
        const authorization = request.headers.get('authorization');
        return authorization === null ? {} : { authorization };
      },
    },
    // One cache entry per client key; without a subgraph's say, answers are kept a minute.
    responseCaching: { session: (request: Request) => request.headers.get('authorization'), ttl: 60_000 },
    cache: memoryCache(),
    logging: false,
  });
  server = createServer(runtime);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  gatewayUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
});

afterAll(async () => {
  if (server) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  await runtime?.dispose();
  await products?.close();
  if (completions) await stopStubbedApp(completions);
});

describe('the Hive gateway response cache', () => {
  it('keeps a products query whose aiSummary is reusable: the second answer never reaches the subgraph', async () => {
    products.products = catalogue(3, 'Kettle');
    const first = await postGraphQL(gatewayUrl, productsQuery, undefined, as('alice'));
    expect(first.json.errors).toBeUndefined();
    const before = sent.completions ?? 0;
    const again = await postGraphQL(gatewayUrl, productsQuery, undefined, as('alice'));
    expect(again.json.data).toEqual(first.json.data);
    expect(sent.completions ?? 0).toBe(before);
  });

  it('never keeps a sampled template answer (no-store, max-age=0): each query reaches the subgraph', async () => {
    products.products = catalogue(3, 'Teapot');
    const before = sent.completions ?? 0;
    for (let round = 0; round < 2; round++) {
      const { json } = await postGraphQL(gatewayUrl, taglineQuery, undefined, as('alice'));
      expect(json.errors).toBeUndefined();
    }
    expect((sent.completions ?? 0) - before).toBe(2);
  });

  it('never keeps a client’s own data (its usage): each query reaches the subgraph', async () => {
    const before = sent.completions ?? 0;
    for (let round = 0; round < 2; round++) {
      const { json } = await postGraphQL(gatewayUrl, '{ usage { client } }', undefined, as('alice'));
      expect(json.data.usage.client).toBe('alice');
    }
    expect((sent.completions ?? 0) - before).toBe(2);
  });
});
