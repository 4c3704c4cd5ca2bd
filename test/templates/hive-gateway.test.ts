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
import { summaryPrompt } from './helpers.js';
import {
  answerBatch,
  as,
  catalogue,
  expectedSummary,
  type ProductsSubgraph,
  productsQuery,
  rawPromptMutation,
  startProductsSubgraph,
  startTemplatesSubgraph,
  taglineQuery,
  tokens,
} from './products-subgraph.js';

/**
 * The composition of `gateway.test.ts` behind the Hive gateway runtime on node:http: the test
 * `products` subgraph and the completions subgraph serving the example prompts file, composed by the
 * runtime itself (`supergraph: { type: 'dev' }`: `_service { sdl }` of each, then
 * `@theguild/federation-composition`). The gateway forwards each client's `Authorization`
 * (`propagateHeaders.fromClientToSubgraphs`); its own key serves composition only.
 */

type Transports = NonNullable<GatewayConfigBase<Record<string, unknown>>['transports']>;
type Transport = Extract<
  Awaited<Extract<Transports, Record<string, unknown>>[string]>,
  { getSubgraphExecutor: unknown }
>;

/**
 * Queries and mutations as POST application/json, with the headers the gateway's plugins put in
 * the request's `extensions.headers` (where `propagateHeaders` leaves the client's Authorization),
 * as `@graphql-mesh/transport-http` sends them (the runtime does not ship that package).
 */
const jsonHttpTransport: Transport = {
  getSubgraphExecutor({ transportEntry }) {
    const url = transportEntry.location;
    if (url === undefined) throw new Error(`subgraph ${transportEntry.subgraph} has no URL`);
    return ((request: {
      document: DocumentNode;
      variables?: Record<string, unknown>;
      operationName?: string;
      extensions?: { headers?: Record<string, string> };
      signal?: AbortSignal;
    }): Promise<ExecutionResult> =>
      fetch(url, {
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
      }).then((response) => response.json() as Promise<ExecutionResult>)) as never;
  },
};

/** The runtime's own fetches (composition's `_service { sdl }`) carry the gateway's key. */
const composeFetch = (input: string | URL | Request, init?: RequestInit) => {
  const headers = new Headers(init?.headers);
  headers.set('authorization', `Bearer ${tokens.gateway}`);
  return fetch(input, { ...init, headers });
};

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
    transports: { http: jsonHttpTransport },
    fetchAPI: { fetch: composeFetch as never },
    propagateHeaders: {
      fromClientToSubgraphs: ({ request }) => {
        const authorization = request.headers.get('authorization');
        return authorization === null ? {} : { authorization };
      },
    },
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

const hits = () => completions.stub.hits('/completions');

describe('Product.aiSummary through the Hive gateway', () => {
  it('20 products: exactly 1 upstream call carrying their 20 prompts in order, each product its own text', async () => {
    products.products = catalogue(20, 'Lamp');
    const before = hits();
    const { json } = await postGraphQL(gatewayUrl, productsQuery, undefined, as('alice'));
    expect(json.errors).toBeUndefined();
    expect(hits() - before).toBe(1);
    // The upstream gets the server's key, never the client's; the prompts in the products' order.
    const sent = completions.stub.requests.at(-1);
    expect(sent?.headers.authorization).not.toContain(tokens.alice);
    expect((sent?.json as { prompt: string[] } | undefined)?.prompt).toEqual(
      products.products.map((p) => summaryPrompt(p.name, p.description ?? '')),
    );
    expect(json.data.products).toEqual(
      products.products.map((p, i) => ({
        id: p.id,
        name: p.name,
        aiSummary: { text: expectedSummary(i, p), cached: false },
      })),
    );
  });

  it('the same query again: no upstream call, every aiSummary cached: true with the same text', async () => {
    products.products = catalogue(20, 'Vase');
    const first = await postGraphQL(gatewayUrl, productsQuery, undefined, as('alice'));
    const before = hits();
    const again = await postGraphQL(gatewayUrl, productsQuery, undefined, as('alice'));
    expect(again.json.errors).toBeUndefined();
    expect(hits()).toBe(before);
    expect(again.json.data.products).toEqual(
      first.json.data.products.map((p: { aiSummary: object }) => ({
        ...p,
        aiSummary: { ...p.aiSummary, cached: true },
      })),
    );
  });

  it('a template with temperature 0.7 and no seed is never reused: each query is a call', async () => {
    products.products = catalogue(3, 'Clock');
    const before = hits();
    for (let round = 0; round < 2; round++) {
      const { json } = await postGraphQL(gatewayUrl, taglineQuery, undefined, as('alice'));
      expect(json.data.products.map((p: { aiTagline: { cached: boolean } }) => p.aiTagline.cached)).toEqual([
        false,
        false,
        false,
      ]);
    }
    expect(hits() - before).toBe(2);
  });

  it('choices answered out of order still reach their own products (by index)', async () => {
    products.products = catalogue(20, 'Chair');
    completions.stub.on('POST', '/completions', answerBatch('reversed'));
    try {
      const before = hits();
      const { json } = await postGraphQL(gatewayUrl, productsQuery, undefined, as('alice'));
      expect(json.errors).toBeUndefined();
      expect(hits() - before).toBe(1);
      expect(json.data.products.map((p: { aiSummary: { text: string } }) => p.aiSummary.text)).toEqual(
        products.products.map((p, i) => expectedSummary(i, p)),
      );
    } finally {
      completions.stub.on('POST', '/completions', answerBatch());
    }
  });

  it('a client over its budget: the coded error at each product’s aiSummary, names still served, no call', async () => {
    products.products = catalogue(5, 'Desk');
    const before = hits();
    const { json } = await postGraphQL(gatewayUrl, productsQuery, undefined, as('broke'));
    expect(hits() - before).toBe(0);
    expect(json.data.products).toEqual(
      products.products.map((p) => ({ id: p.id, name: p.name, aiSummary: null })),
    );
    // One coded error per product. The subgraph puts each at its entity's path
    // (["_entities", i, "aiSummary"]); the Hive gateway (2.12) maps them onto the client's path
    // without the list index (Apollo Gateway keeps it: gateway.test.ts).
    expect(json.errors).toEqual(
      products.products.map(() =>
        expect.objectContaining({
          path: expect.arrayContaining(['products', 'aiSummary']),
          extensions: expect.objectContaining({
            code: 'BUDGET_EXCEEDED',
            budget: { amount: 50, unit: 'TOKENS', period: 'day' },
          }),
        }),
      ),
    );
    const direct = await completions.app.post(
      'query ($r: [_Any!]!) { _entities(representations: $r) { ... on Product { aiSummary { text } } } }',
      { r: products.products.map((p) => ({ __typename: 'Product', ...p })) },
      as('broke'),
    );
    expect(direct.json.errors.map((error: { path: unknown }) => error.path)).toEqual(
      products.products.map((_, i) => ['_entities', i, 'aiSummary']),
    );
    expect(hits() - before).toBe(0);
  });

  it('without a client key: UNAUTHENTICATED from the subgraph, no call', async () => {
    products.products = catalogue(2, 'Rug');
    const before = hits();
    const { json } = await postGraphQL(gatewayUrl, productsQuery);
    expect(hits() - before).toBe(0);
    expect(JSON.stringify(json.errors)).toContain('UNAUTHENTICATED');
  });

  it('ALLOW_RAW_PROMPTS=false: createCompletion with a raw prompt is refused with FORBIDDEN_RAW_PROMPT, no call', async () => {
    const before = hits();
    const { json } = await postGraphQL(gatewayUrl, rawPromptMutation, undefined, as('alice'));
    expect(hits() - before).toBe(0);
    expect(json.data?.createCompletion ?? null).toBeNull();
    expect(json.errors).toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'FORBIDDEN_RAW_PROMPT' }) }),
    ]);
  });
});
