import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloGateway, IntrospectAndCompose } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configDefaults } from '../../src/config.js';
import { type StubbedApp, startStubbedApp, stopStubbedApp } from '../helpers/test-app.js';
import { exampleTemplates, summaryPrompt } from './helpers.js';

/**
 * Through a real gateway: a test `products` subgraph owns Product (name, description), the
 * completions subgraph adds `Product.aiSummary` from the example prompts file, and Apollo Gateway
 * composes both. `{ products { aiSummary { text } } }` for 20 products is ONE upstream call.
 */

interface Product {
  id: string;
  name: string;
  description: string | null;
}

let products: Product[] = [];
let productsServer: Server;
let completions: StubbedApp;
let server: ApolloServer;
let gatewayUrl: string;

async function startProducts(): Promise<string> {
  const schema = buildSubgraphSchema({
    typeDefs: parse(`
      extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"])
      type Query { products: [Product!]! }
      type Product @key(fields: "id") { id: ID! name: String! description: String }
    `),
    resolvers: {
      Query: { products: () => products },
      Product: { __resolveReference: (ref: { id: string }) => products.find((p) => p.id === ref.id) ?? null },
    },
  });
  productsServer = createServer(createYoga({ schema, logging: false }));
  await new Promise<void>((resolve) => productsServer.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(productsServer.address() as AddressInfo).port}/graphql`;
}

beforeAll(async () => {
  const productsUrl = await startProducts();
  completions = await startStubbedApp({
    app: {
      prompts: { templates: exampleTemplates(), allowRawPrompts: false },
      limits: { ...configDefaults.limits, maxEstimatedTokensPerOperation: 4_000 },
    },
  });
  completions.stub.on('POST', '/completions', (_req, res, request) => {
    const prompts = (request.json as { prompt: string[] }).prompt;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: 'cmpl-batch',
        object: 'text_completion',
        created: 1,
        model: 'gpt-3.5-turbo-instruct',
        choices: prompts.map((_, i) => ({
          text: `summary ${i}`,
          index: i,
          logprobs: null,
          finish_reason: 'stop',
        })),
        usage: {
          prompt_tokens: 10 * prompts.length,
          completion_tokens: 3 * prompts.length,
          total_tokens: 13 * prompts.length,
        },
      }),
    );
  });
  const gateway = new ApolloGateway({
    supergraphSdl: new IntrospectAndCompose({
      subgraphs: [
        { name: 'products', url: productsUrl },
        { name: 'completions', url: completions.app.graphqlUrl },
      ],
    }),
  });
  server = new ApolloServer({ gateway });
  ({ url: gatewayUrl } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' } }));
});

afterAll(async () => {
  await server?.stop();
  await new Promise((resolve) => productsServer?.close(resolve));
  if (completions) await stopStubbedApp(completions);
});

async function query(text: string) {
  const response = await fetch(gatewayUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: text }),
  });
  return response.json();
}

const catalogue = (count: number): Product[] =>
  Array.from({ length: count }, (_, i) => ({
    id: `p${i}`,
    name: `Product ${i}`,
    description: i % 3 === 0 ? null : `Made of thing ${i}`,
  }));

describe('Product.aiSummary through Apollo Gateway', () => {
  it('20 products: exactly 1 upstream call carrying their 20 prompts in order, each product its own text', async () => {
    products = catalogue(20);
    const before = completions.stub.hits('/completions');
    const result = await query('{ products { id name aiSummary { text cached } } }');
    expect(result.errors).toBeUndefined();
    expect(completions.stub.hits('/completions') - before).toBe(1);
    const sent = completions.stub.requests.at(-1)?.json as { prompt: string[] };
    expect(sent.prompt).toEqual(products.map((p) => summaryPrompt(p.name, p.description ?? '')));
    expect(result.data.products).toEqual(
      products.map((p, i) => ({
        id: p.id,
        name: p.name,
        aiSummary: { text: `summary ${i}`, cached: false },
      })),
    );
  });

  it('past the operation ceiling: every product gets the coded error and nothing is called', async () => {
    products = catalogue(60);
    const before = completions.stub.hits('/completions');
    const result = await query('{ products { id aiSummary { text } } }');
    expect(completions.stub.hits('/completions') - before).toBe(0);
    expect(result.data?.products?.every((p: { aiSummary: unknown }) => p.aiSummary === null)).toBe(true);
    expect(JSON.stringify(result.errors)).toContain('COST_LIMIT_EXCEEDED');
  });
});
