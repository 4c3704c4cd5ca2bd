import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configDefaults } from '../../src/config.js';
import { splitTokens } from '../../src/schema/templates/run.js';
import { buildSchema } from '../../src/schema/templates/schema.js';
import type { PromptTemplate } from '../../src/templates/template.js';
import { reply } from '../helpers/stub-upstream.js';
import { type StubbedApp, startStubbedApp, stopStubbedApp } from '../helpers/test-app.js';
import { exampleTemplates, summaryPrompt } from './helpers.js';

/**
 * The example's productSummary is also `Product.aiSummary @requires(fields: "name description")`:
 * what a gateway's `_entities` fetch for N products costs (ONE upstream call carrying N prompts, in
 * order), what each entity gets (its own choice, its share of the usage), and what a failed batch
 * gives (a coded error at each entity's path, never another entity's text).
 */

let stubbed: StubbedApp;
const hits = () => stubbed.stub.hits('/completions');

beforeAll(async () => {
  stubbed = await startStubbedApp({
    app: {
      prompts: { templates: exampleTemplates(), allowRawPrompts: false },
      limits: { ...configDefaults.limits, maxEstimatedTokensPerOperation: 4_000 },
    },
  });
});
afterAll(() => stopStubbedApp(stubbed));

/** What a gateway sends for `{ products { aiSummary { ... } } }`: the key and the required fields. */
const entitiesQuery = `query ($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on Product { aiSummary { text finishReason cached completionId usage { promptTokens completionTokens totalTokens } } }
  }
}`;

// A fresh run of names per call: the example template's results are cached, and each test here
// is about the calls it makes itself.
let batchNumber = 0;
const products = (count: number) => {
  batchNumber++;
  return Array.from({ length: count }, (_, i) => ({
    __typename: 'Product',
    id: `p${i}`,
    name: `Product ${i}${batchNumber === 1 ? '' : ` (batch ${batchNumber})`}`,
    description: i % 2 === 0 ? `Description ${i}` : null,
  }));
};

/** An upstream answer with one choice per prompt, in shuffled order, text naming its prompt. */
const batchAnswer = (prompts: string[]) => ({
  id: 'cmpl-batch',
  object: 'text_completion',
  created: 1,
  model: 'gpt-3.5-turbo-instruct',
  choices: prompts
    .map((_, i) => ({
      text: `summary ${i}${'.'.repeat(i)}`,
      index: i,
      logprobs: null,
      finish_reason: 'stop',
    }))
    .reverse(),
  usage: {
    prompt_tokens: 20 * prompts.length,
    completion_tokens: 5 * prompts.length,
    total_tokens: 25 * prompts.length,
  },
});

describe('Product.aiSummary through _entities', () => {
  it('the SDL extends Product with @key, the required fields @external and @requires, and composes', async () => {
    const sdl: string = (await stubbed.app.post('{ _service { sdl } }')).json.data._service.sdl;
    expect(sdl).toMatch(/type Product\s+@key\(fields: "id"\)/);
    expect(sdl).toMatch(/name: String! @external/);
    expect(sdl).toMatch(/description: String @external/);
    expect(sdl).toMatch(
      /aiSummary: GeneratedText @requires\(fields: "name description"\) @cost\(weight: 1000\)/,
    );
    expect(sdl).toMatch(/import: \[[^\]]*"@external", "@requires"\]/);
    const products = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"])
      type Query { products: [Product!]! }
      type Product @key(fields: "id") { id: ID! name: String! description: String }`;
    const composed = composeServices([
      { name: 'completions', typeDefs: parse(sdl), url: 'http://127.0.0.1:9' },
      { name: 'products', typeDefs: parse(products), url: 'http://127.0.0.1:8' },
    ]);
    expect(composed.errors).toBeUndefined();
    expect(composed.supergraphSdl).toMatch(/aiSummary: GeneratedText/);
  });

  it('20 products: ONE upstream call with 20 prompts in order; each entity its own choice and usage share', async () => {
    stubbed.stub.on('POST', '/completions', (_req, res, request) => {
      const body = request.json as { prompt: string[] };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(batchAnswer(body.prompt)));
    });
    const before = hits();
    const representations = products(20);
    const response = await stubbed.app.post(entitiesQuery, { representations });
    expect(response.json.errors).toBeUndefined();
    expect(hits() - before).toBe(1);
    const sent = stubbed.stub.requests.at(-1)?.json as { prompt: string[]; max_tokens: number };
    expect(sent.prompt).toEqual(representations.map((p) => summaryPrompt(p.name, p.description ?? '')));
    expect(sent.max_tokens).toBe(80);
    const summaries = response.json.data._entities.map((e: { aiSummary: { text: string } }) => e.aiSummary);
    expect(summaries.map((s: { text: string }) => s.text)).toEqual(
      representations.map((_, i) => `summary ${i}${'.'.repeat(i)}`),
    );
    expect(summaries[0]).toMatchObject({ finishReason: 'STOP', cached: false, completionId: 'cmpl-batch' });
    const sum = (key: 'promptTokens' | 'completionTokens') =>
      summaries.reduce(
        (total: number, s: { usage: Record<string, number> }) => total + (s.usage[key] ?? 0),
        0,
      );
    // The call's usage, split per entity: the shares add up to what the upstream reported.
    expect(sum('promptTokens')).toBe(400);
    expect(sum('completionTokens')).toBe(100);
    expect(response.json.extensions.usage.calls).toEqual([
      expect.objectContaining({
        field: '_entities.Product.aiSummary',
        promptTokens: 400,
        completionTokens: 100,
      }),
    ]);
  });

  it('a failed batch gives each entity a coded error at its own path, and no text', async () => {
    stubbed.stub.on('POST', '/completions', reply.json(503, { error: { message: 'overloaded' } }));
    const response = await stubbed.app.post(entitiesQuery, { representations: products(3) });
    expect(response.json.data._entities).toEqual([
      { aiSummary: null },
      { aiSummary: null },
      { aiSummary: null },
    ]);
    expect(response.json.errors.map((e: { path: unknown[] }) => e.path)).toEqual([
      ['_entities', 0, 'aiSummary'],
      ['_entities', 1, 'aiSummary'],
      ['_entities', 2, 'aiSummary'],
    ]);
    for (const error of response.json.errors) expect(error.extensions.code).toBe('UPSTREAM_UNAVAILABLE');
  });

  it('a batch the upstream refuses (400): BAD_USER_INPUT blamed on representations, the upstream’s code kept', async () => {
    stubbed.stub.on(
      'POST',
      '/completions',
      reply.json(400, {
        error: {
          message: 'Too long.',
          type: 'invalid_request_error',
          param: 'prompt',
          code: 'context_length_exceeded',
        },
      }),
    );
    const response = await stubbed.app.post(entitiesQuery, { representations: products(2) });
    expect(response.json.errors).toHaveLength(2);
    for (const error of response.json.errors) {
      expect(error.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        argument: 'representations',
        upstreamCode: 'context_length_exceeded',
      });
    }
  });

  it('a prompt the upstream left without a choice is an error for that entity only', async () => {
    stubbed.stub.on('POST', '/completions', (_req, res, request) => {
      const answer = batchAnswer((request.json as { prompt: string[] }).prompt);
      answer.choices = answer.choices.filter((c) => c.index !== 1);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
    });
    const response = await stubbed.app.post(entitiesQuery, { representations: products(3) });
    expect(response.json.data._entities[0].aiSummary.text).toBe('summary 0');
    expect(response.json.data._entities[1].aiSummary).toBeNull();
    expect(response.json.data._entities[2].aiSummary.text).toBe('summary 2..');
    expect(response.json.errors).toEqual([
      expect.objectContaining({
        path: ['_entities', 1, 'aiSummary'],
        extensions: expect.objectContaining({ code: 'UPSTREAM_BAD_RESPONSE' }),
      }),
    ]);
  });

  it('is priced before any call: past the token ceiling, a value past maxLength, a missing required field', async () => {
    const before = hits();
    const cases: [unknown[], Record<string, unknown>][] = [
      // 50 prompts × (their tokens + 80) is past 4,000: refused as a whole.
      [products(50), { code: 'COST_LIMIT_EXCEEDED' }],
      [
        [{ __typename: 'Product', id: 'x', name: 'n'.repeat(201) }],
        { code: 'BAD_USER_INPUT', argument: 'representations[0].name' },
      ],
      [
        [{ __typename: 'Product', id: 'x', description: 'd' }],
        { code: 'BAD_USER_INPUT', argument: 'representations[0].name' },
      ],
    ];
    for (const [representations, extensions] of cases) {
      const response = await stubbed.app.post(entitiesQuery, { representations });
      expect(response.json.data ?? null).toBeNull();
      expect(response.json.errors[0].extensions).toMatchObject(extensions);
    }
    expect(hits() - before).toBe(0);
  });

  it('a malformed representation beside good ones refuses the whole operation before any call', async () => {
    const before = hits();
    const cases: [unknown[], string][] = [
      [[...products(2), { __typename: 'Query' }], 'representations[2].__typename'],
      [[...products(1), { __typename: 'Product', name: 'no id' }], 'representations[1]'],
      [[{ __typename: 'Product', id: { x: 1 }, name: 'n' }], 'representations[0]'],
      [[...products(1), 'Product'], 'representations[1]'],
    ];
    for (const [representations, argument] of cases) {
      const response = await stubbed.app.post(entitiesQuery, { representations });
      expect(response.json.data ?? null).toBeNull();
      expect(response.json.errors).toHaveLength(1);
      expect(response.json.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument });
    }
    expect(hits() - before).toBe(0);
  });

  it('costs nothing when no entity selects it (other entities resolve as before)', async () => {
    const before = hits();
    const response = await stubbed.app.post(
      'query ($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id } } }',
      { r: products(2) },
    );
    expect(response.json.data._entities).toEqual([{ id: 'p0' }, { id: 'p1' }]);
    expect(hits() - before).toBe(0);
  });
});

describe('bindings that cannot be served stop the start', () => {
  const [summary] = exampleTemplates();
  if (summary?.entity === undefined) throw new Error('the example binds productSummary to Product');
  const binding = summary.entity;
  const cases: [PromptTemplate, RegExp][] = [
    ...['Model', 'GeneratedText', 'TemplateOverrides', 'PromptTemplates'].map(
      (type): [PromptTemplate, RegExp] => [
        { ...summary, entity: { ...binding, type } },
        new RegExp(`the entity type ${type} is a type of this service`),
      ],
    ),
    [
      { ...summary, entity: { ...summary.entity, field: 'name' } },
      /the entity field Product\.name is also the key or a required field of Product/,
    ],
    [
      { ...summary, entity: { ...summary.entity, field: 'id' } },
      /the entity field Product\.id is also the key/,
    ],
    [{ ...summary, name: 'other' }, /templates productSummary and other both add Product\.aiSummary/],
    [{ ...summary, name: 'other', entity: { ...summary.entity, key: 'sku', field: 'x' } }, /different keys/],
  ];
  it.each(cases)('%#', (other, message) => {
    const templates = other.name === summary.name ? [other] : [summary, other];
    expect(() => buildSchema(templates)).toThrow(message);
  });
});

describe('splitTokens', () => {
  it('splits in whole tokens, in proportion, summing to the total', () => {
    expect(splitTokens(10, [1, 1, 1])).toEqual([4, 3, 3]);
    expect(splitTokens(7, [0, 0])).toEqual([7, 0]);
    expect(splitTokens(100, [1, 3])).toEqual([25, 75]);
  });
});
