import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postGraphQL } from '../federation/fixtures.js';
import { type StubbedApp, stopStubbedApp } from '../helpers/test-app.js';
import { summaryPrompt } from './helpers.js';
import { startHiveGateway } from './hive-fixture.js';
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
  tokens,
} from './products-subgraph.js';

/**
 * The composition of `gateway.test.ts` behind the Hive gateway runtime (hive-fixture.ts).
 */

let products: ProductsSubgraph;
let completions: StubbedApp;
let gateway: { url: string; close: () => Promise<void> } | undefined;
let gatewayUrl: string;

beforeAll(async () => {
  products = await startProductsSubgraph();
  completions = await startTemplatesSubgraph();
  gateway = await startHiveGateway(products, completions);
  gatewayUrl = gateway.url;
});

afterAll(async () => {
  await gateway?.close();
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

  it('the same query again: no upstream call, every aiSummary cached: true with the same text', () =>
    expectReusedAgain({ gatewayUrl, products, hits }));

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
