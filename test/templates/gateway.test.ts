import { ApolloGateway, IntrospectAndCompose, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postGraphQL } from '../federation/fixtures.js';
import { type StubbedApp, stopStubbedApp } from '../helpers/test-app.js';
import { summaryPrompt } from './helpers.js';
import {
  answerBatch,
  as,
  catalogue,
  expectedSummary,
  expectReusedAgain,
  expectSampledNeverReused,
  type ProductsSubgraph,
  productsQuery,
  rawPromptMutation,
  startProductsSubgraph,
  startTemplatesSubgraph,
  taglineQuery,
} from './products-subgraph.js';

/**
 * Through a real gateway: the test `products` subgraph owns Product (name, description), the
 * completions subgraph adds `Product.aiSummary` from the example prompts file, and Apollo Gateway
 * composes both, forwarding each client's `Authorization` to the subgraphs (its own key serves
 * composition only). `{ products { aiSummary { text } } }` for 20 products is ONE upstream call.
 * The same composition behind the Hive gateway: `hive-gateway.test.ts`.
 */

interface GatewayContext {
  authorization?: string;
}

let products: ProductsSubgraph;
let completions: StubbedApp;
let server: ApolloServer<GatewayContext>;
let gatewayUrl: string;

beforeAll(async () => {
  products = await startProductsSubgraph();
  completions = await startTemplatesSubgraph();
  const gateway = new ApolloGateway({
    supergraphSdl: new IntrospectAndCompose({
      subgraphs: [
        { name: 'products', url: products.url },
        { name: 'completions', url: completions.app.graphqlUrl },
      ],
      introspectionHeaders: as('gateway'),
    }),
    buildService: ({ url }) =>
      new RemoteGraphQLDataSource<GatewayContext>({
        url,
        willSendRequest({ request, context }) {
          if (context.authorization) request.http?.headers.set('authorization', context.authorization);
        },
      }),
  });
  server = new ApolloServer<GatewayContext>({ gateway });
  ({ url: gatewayUrl } = await startStandaloneServer(server, {
    listen: { port: 0, host: '127.0.0.1' },
    context: async ({ req }) =>
      req.headers.authorization === undefined ? {} : { authorization: req.headers.authorization },
  }));
});

afterAll(async () => {
  await server?.stop();
  await products?.close();
  if (completions) await stopStubbedApp(completions);
});

const hits = () => completions.stub.hits('/completions');

describe('Product.aiSummary through Apollo Gateway', () => {
  it('20 products: exactly 1 upstream call carrying their 20 prompts in order, each product its own text', async () => {
    products.products = catalogue(20, 'Lamp');
    const before = hits();
    const { json } = await postGraphQL(gatewayUrl, productsQuery, undefined, as('alice'));
    expect(json.errors).toBeUndefined();
    expect(hits() - before).toBe(1);
    const sent = completions.stub.requests.at(-1)?.json as { prompt: string[] };
    expect(sent.prompt).toEqual(products.products.map((p) => summaryPrompt(p.name, p.description ?? '')));
    expect(json.data.products).toEqual(
      products.products.map((p, i) => ({
        id: p.id,
        name: p.name,
        aiSummary: { text: expectedSummary(i, p), cached: false },
      })),
    );
  });

  it('the same query again: no upstream call, every aiSummary cached: true with the same text', () =>
    expectReusedAgain({ gatewayUrl, products, hits }));

  it('the gateway bounds its response cache by the subgraph’s Cache-Control: private, the template’s TTL', async () => {
    products.products = catalogue(2, 'Bowl');
    const response = await fetch(gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...as('alice') },
      body: JSON.stringify({ query: productsQuery }),
    });
    expect(((await response.json()) as { errors?: unknown }).errors).toBeUndefined();
    // The products subgraph allows a week; productSummary's results are reusable for a day.
    expect(response.headers.get('cache-control')).toBe('max-age=86400, private');
    const tagline = await fetch(gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...as('alice') },
      body: JSON.stringify({ query: taglineQuery }),
    });
    await tagline.text();
    expect(tagline.headers.get('cache-control')).toBe('no-store');
  });

  it('a template with temperature 0.7 and no seed is never reused: each query is a call', () =>
    expectSampledNeverReused({ gatewayUrl, products, hits }));

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

  it('past the operation ceiling: every product gets the coded error and nothing is called', async () => {
    products.products = catalogue(60, 'Desk');
    const before = hits();
    const { json } = await postGraphQL(gatewayUrl, productsQuery, undefined, as('alice'));
    expect(hits() - before).toBe(0);
    expect(json.data?.products).toHaveLength(60);
    expect(json.data.products.every((p: { aiSummary: unknown }) => p.aiSummary === null)).toBe(true);
    expect(JSON.stringify(json.errors)).toContain('COST_LIMIT_EXCEEDED');
  });

  it('a client over its budget: the coded error at each product’s aiSummary, names still served, no call', async () => {
    products.products = catalogue(5, 'Rug');
    const before = hits();
    const { json } = await postGraphQL(gatewayUrl, productsQuery, undefined, as('broke'));
    expect(hits() - before).toBe(0);
    expect(json.data.products).toEqual(
      products.products.map((p) => ({ id: p.id, name: p.name, aiSummary: null })),
    );
    expect(json.errors).toEqual(
      products.products.map((_, i) =>
        expect.objectContaining({
          path: ['products', i, 'aiSummary'],
          extensions: expect.objectContaining({ code: 'BUDGET_EXCEEDED' }),
        }),
      ),
    );
  });

  it('without a client key: UNAUTHENTICATED, no call', async () => {
    products.products = catalogue(2, 'Shelf');
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
