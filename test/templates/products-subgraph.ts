import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import { expect } from 'vitest';
import { ClientAuthenticator, hashToken, parseClientKeys } from '../../src/auth/client-keys.js';
import { configDefaults } from '../../src/config.js';
import { parsePromptsFile } from '../../src/templates/config-file.js';
import { postGraphQL } from '../federation/fixtures.js';
import type { StubHandler } from '../helpers/stub-upstream.js';
import { type StubbedApp, startStubbedApp } from '../helpers/test-app.js';
import { exampleTemplates } from './helpers.js';

/** A second entity field, sampled (temperature 0.7, no seed): its results must never be reused. */
const taglineYaml = `
templates:
  productTagline:
    description: A creative tagline for a product.
    prompt: "Write a tagline.\\nName: {{name}}\\nTagline:"
    variables: { name: String! }
    model: gpt-3.5-turbo-instruct
    parameters: { maxTokens: 20, temperature: 0.7 }
    cache: { ttlSeconds: 3600 }
    entity: { type: Product, key: id, field: aiTagline, requires: { name: String! } }
`;

/**
 * What both gateway tests compose (`gateway.test.ts`: Apollo Gateway, `hive-gateway.test.ts`: the
 * Hive gateway runtime): a test `products` subgraph owning `Product` (name, description), and the
 * completions subgraph serving the example prompts file (`Product.aiSummary`), with raw prompts off
 * and client keys on, in front of a stub upstream answering each batch with one choice per prompt.
 */

export interface Product {
  id: string;
  name: string;
  description: string | null;
}

export const productsTypeDefs = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"])
  type Query { products: [Product!]! }
  type Product @key(fields: "id") { id: ID! name: String! description: String }
`;

export interface ProductsSubgraph {
  url: string;
  /** What `Query.products` answers (and `_entities` resolves), replaced by each test. */
  products: Product[];
  close(): Promise<void>;
}

export async function startProductsSubgraph(): Promise<ProductsSubgraph> {
  const subgraph: ProductsSubgraph = { url: '', products: [], close: async () => {} };
  const schema = buildSubgraphSchema({
    typeDefs: parse(productsTypeDefs),
    resolvers: {
      Query: { products: () => subgraph.products },
      Product: {
        __resolveReference: (ref: { id: string }) => subgraph.products.find((p) => p.id === ref.id) ?? null,
      },
    },
  });
  // The products may be kept a long time (a week): a gateway's cache bound is then the completions'.
  const longLived: Plugin = {
    onResponse: ({ response }) => response.headers.set('cache-control', 'public, max-age=604800'),
  };
  const server = createServer(createYoga({ schema, logging: false, plugins: [longLived] }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  subgraph.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  subgraph.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return subgraph;
}

/**
 * `count` products named `<name> <i>`; every third has no description (the template then renders it
 * as nothing). Each test names its own, so no two tests send the same prompt (a result one test
 * paid for may be reused by the cache for another).
 */
export const catalogue = (count: number, name = 'Product'): Product[] =>
  Array.from({ length: count }, (_, i) => ({
    id: `p${i}`,
    name: `${name} ${i}`,
    description: i % 3 === 0 ? null : `Made of thing ${i}`,
  }));

/**
 * The text the stub gives the prompt at `index`: its index and the product name the prompt carries,
 * so a product holding another's text shows at once.
 */
export const summaryText = (index: number, prompt: string) =>
  `summary ${index} of ${/\nName: (.*)\n/.exec(prompt)?.[1] ?? '?'}`;

/** The text product `i` of the batch must get. */
export const expectedSummary = (i: number, product: Product) => summaryText(i, `\nName: ${product.name}\n`);

/**
 * The upstream's answer to a prompt array: one choice per prompt, each naming its prompt, listed
 * in order or reversed (the Completions API only promises `index`, not the order of `choices`).
 */
export const answerBatch =
  (order: 'in order' | 'reversed' = 'in order'): StubHandler =>
  (_req, res, request) => {
    const prompts = (request.json as { prompt: string[] }).prompt;
    const choices = prompts.map((prompt, i) => ({
      text: summaryText(i, prompt),
      index: i,
      logprobs: null,
      finish_reason: 'stop',
    }));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: 'cmpl-batch',
        object: 'text_completion',
        created: 1,
        model: 'gpt-3.5-turbo-instruct',
        choices: order === 'reversed' ? choices.reverse() : choices,
        usage: {
          prompt_tokens: 10 * prompts.length,
          completion_tokens: 3 * prompts.length,
          total_tokens: 13 * prompts.length,
        },
      }),
    );
  };

/**
 * Client keys: the gateway's own (composition only), alice (unlimited) and broke, whose hard budget
 * of 50 tokens a day is less than one product summary's price (its prompt + 80 max tokens).
 */
export const tokens = {
  gateway: 'ck-gateway-compose-templates',
  alice: 'ck-alice-templates',
  broke: 'ck-broke-templates',
} as const;

export const as = (name: keyof typeof tokens) => ({ authorization: `Bearer ${tokens[name]}` });

const authenticator = () =>
  new ClientAuthenticator(
    parseClientKeys(
      [
        `gateway:${hashToken(tokens.gateway)}`,
        `alice:${hashToken(tokens.alice)}`,
        `broke:${hashToken(tokens.broke)} budget=50tokens/day`,
      ].join('\n'),
    ),
  );

/**
 * The completions subgraph with the example templates, `ALLOW_RAW_PROMPTS=false`, the client keys
 * above, an operation ceiling of 4,000 estimated tokens (20 summaries fit, 60 do not), and a stub
 * answering every batch in order.
 */
export async function startTemplatesSubgraph(): Promise<StubbedApp> {
  const completions = await startStubbedApp({
    app: {
      prompts: {
        templates: [...exampleTemplates(), ...parsePromptsFile(taglineYaml)],
        allowRawPrompts: false,
      },
      limits: { ...configDefaults.limits, maxEstimatedTokensPerOperation: 4_000 },
      authenticator: authenticator(),
    },
  });
  completions.stub.on('POST', '/completions', answerBatch());
  return completions;
}

/** `{ products { aiTagline } }`: the sampled entity field. */
export const taglineQuery = '{ products { id aiTagline { text cached } } }';

/** `{ products { … aiSummary … } }` as a client sends it. */
export const productsQuery = '{ products { id name aiSummary { text cached } } }';

/** A raw prompt: refused with FORBIDDEN_RAW_PROMPT when raw prompts are off. */
export const rawPromptMutation = `mutation {
  createCompletion(input: { model: "gpt-3.5-turbo-instruct", prompt: { text: "Say anything" } }) { id choices { text } }
}`;

/** What the gateway scenarios below need: the gateway, the products it serves, the upstream's calls. */
export interface GatewayScenario {
  gatewayUrl: string;
  products: ProductsSubgraph;
  hits: () => number;
}

/** The same products query again: no upstream call, every aiSummary `cached: true` with the same text. */
export async function expectReusedAgain({ gatewayUrl, products, hits }: GatewayScenario): Promise<void> {
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
}

/** A sampled entity template (temperature 0.7, no seed): each query is an upstream call. */
export async function expectSampledNeverReused({
  gatewayUrl,
  products,
  hits,
}: GatewayScenario): Promise<void> {
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
}
