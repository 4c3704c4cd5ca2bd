import { composeServices } from '@apollo/composition';
import { printSubgraphSchema } from '@apollo/subgraph';
import { Kind, type ObjectTypeDefinitionNode, parse, print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configDefaults } from '../../src/config.js';
import { schema as defaultSchema } from '../../src/schema/index.js';
import { buildSchema } from '../../src/schema/templates/schema.js';
import { createStorage } from '../../src/storage/index.js';
import { reply } from '../helpers/stub-upstream.js';
import { type StubbedApp, startStubbedApp, stopStubbedApp } from '../helpers/test-app.js';
import { exampleTemplates, summaryPrompt, summaryQuery } from './helpers.js';

/**
 * Each template of PROMPTS_FILE is a typed field of Query.prompt, served over real HTTP in front of
 * the stub upstream: what is sent upstream, what the field answers, and every refusal made before
 * anything is paid for (the stub's hits prove it).
 */

let stubbed: StubbedApp;
// Without the example's entity binding (test/templates/entity-fields.test.ts covers it): this
// subgraph composes alone.
const templates = exampleTemplates().map(({ entity: _entity, ...template }) => template);
const hits = () => stubbed.stub.hits('/completions');
type Sent = { prompt: string; model: string; max_tokens: number; temperature?: number; stop?: string[] };
const lastSent = () => stubbed.stub.requests.at(-1)?.json as Sent;

beforeAll(async () => {
  stubbed = await startStubbedApp({
    app: {
      prompts: { templates, allowRawPrompts: true },
      limits: { ...configDefaults.limits, maxEstimatedTokensPerOperation: 2_000 },
    },
  });
  stubbed.stub.on('POST', '/completions', reply.completionOrStream());
});
afterAll(() => stopStubbedApp(stubbed));

describe('the schema', () => {
  it('is exactly the static one without templates', () => {
    expect(buildSchema([])).toBe(defaultSchema);
  });

  it('gives _service { sdl } one typed field per template, with its description and @cost', async () => {
    const response = await stubbed.app.post('{ _service { sdl } }');
    const sdl: string = response.json.data._service.sdl;
    expect(sdl).toContain('prompt: PromptTemplates!');
    expect(sdl).toMatch(
      /A two-sentence summary of a product for listing pages\. \(Model gpt-3\.5-turbo-instruct; a paid upstream call\.\)\s+"""\s+productSummary\(/,
    );
    const prompts = parse(sdl).definitions.find(
      (d): d is ObjectTypeDefinitionNode =>
        d.kind === Kind.OBJECT_TYPE_DEFINITION && d.name.value === 'PromptTemplates',
    );
    const field = prompts?.fields?.find((f) => f.name.value === 'productSummary');
    expect(field?.arguments?.map((a) => `${a.name.value}: ${print(a.type)}`)).toEqual([
      'name: String!',
      'description: String',
      'overrides: TemplateOverrides',
    ]);
    expect(field && print(field.type)).toBe('GeneratedText!');
    // Reusable for a day (temperature 0, cache ttlSeconds 86400): the hint response caches read.
    expect(field?.directives?.map((d) => print(d))).toEqual([
      '@cost(weight: 1000)',
      '@cacheControl(maxAge: 86400, scope: PRIVATE)',
    ]);
    const tagline = prompts?.fields?.find((f) => f.name.value === 'tagline');
    // Sampled at temperature 1 with no cache policy: no hint.
    expect(tagline?.directives?.map((d) => print(d))).toEqual(['@cost(weight: 1000)']);
    // It composes: Apollo's composition takes it as a subgraph, template fields included.
    const composed = composeServices([
      { name: 'completions', typeDefs: parse(sdl), url: 'http://127.0.0.1:9' },
    ]);
    expect(composed.errors).toBeUndefined();
    expect(composed.supergraphSdl).toMatch(/productSummary\(/);
    expect(sdl).toMatch(/supportReply\([^)]*sentences: Int!/);
    expect(sdl).toMatch(/type GeneratedText \{[^}]*cached: Boolean!/);
    // Everything the default schema has is still there: the extension only adds.
    expect(sdl).toContain(
      printSubgraphSchema(defaultSchema)
        .split('\n')
        .find((l) => l.includes('createCompletion')),
    );
  });
});

describe('a template field', () => {
  it('renders its prompt, sends the template model and parameters, and answers GeneratedText', async () => {
    const before = hits();
    const response = await stubbed.app.post(summaryQuery, { name: 'Lamp', description: 'Brass, 40 cm' });
    expect(response.json.errors).toBeUndefined();
    expect(hits() - before).toBe(1);
    expect(lastSent()).toMatchObject({
      model: 'gpt-3.5-turbo-instruct',
      prompt: summaryPrompt('Lamp', 'Brass, 40 cm'),
      max_tokens: 80,
      temperature: 0,
      stop: ['\n\n'],
    });
    expect(response.json.data.prompt.productSummary).toEqual({
      text: '\n\nThe Toronto Raptors won the 2019 NBA Finals.',
      texts: ['\n\nThe Toronto Raptors won the 2019 NBA Finals.'],
      finishReason: 'STOP',
      model: 'gpt-3.5-turbo-instruct:20230824-v2',
      cached: false,
      completionId: 'cmpl-C47L3RG6ICY37W3Q0flVHr4BPTPMS',
      usage: { promptTokens: 10, completionTokens: 12, totalTokens: 22 },
    });
    expect(response.json.extensions.usage.calls).toEqual([
      expect.objectContaining({ field: 'prompt.productSummary', promptTokens: 10, completionTokens: 12 }),
    ]);
  });

  it('inserts values as data, in one pass: a value holding a placeholder is sent as written', async () => {
    await stubbed.app.post(summaryQuery, { name: '{{description}}', description: '{{name}} }}{{' });
    expect(lastSent().prompt).toBe(summaryPrompt('{{description}}', '{{name}} }}{{'));
  });

  it('replaces an absent optional variable by nothing', async () => {
    await stubbed.app.post(summaryQuery, { name: 'Lamp' });
    expect(lastSent().prompt).toBe(summaryPrompt('Lamp'));
  });

  it('takes overrides within the same rules, an explicit null keeping the template value', async () => {
    await stubbed.app.post(summaryQuery, { name: 'x', overrides: { maxTokens: 12, temperature: null } });
    expect(lastSent()).toMatchObject({ max_tokens: 12, temperature: 0 });
  });

  it('runs every template of the file: Int variables, n choices', async () => {
    const response = await stubbed.app.post(
      '{ prompt { supportReply(shop: "Lampen & Co", ticket: "Broken {{x}}", sentences: 2) { text } } }',
    );
    expect(response.json.errors).toBeUndefined();
    expect(lastSent()).toMatchObject({
      prompt: expect.stringContaining('at most 2 sentences.\nTicket: Broken {{x}}\n'),
      seed: 7,
      top_p: 0.95,
    });
    await stubbed.app.post('{ prompt { tagline(product: "tea") { texts } } }');
    expect(lastSent()).toMatchObject({ n: 3, stop: ['\n'], prompt: 'A catchy tagline for tea:' });
  });

  it('an upstream refusal names the field, not createCompletion’s input, and keeps the upstream’s code', async () => {
    stubbed.stub.on(
      'POST',
      '/completions',
      reply.json(400, {
        error: {
          message: "This model's maximum context length is 4097 tokens.",
          type: 'invalid_request_error',
          param: 'prompt',
          code: 'context_length_exceeded',
        },
      }),
    );
    try {
      const response = await stubbed.app.post(summaryQuery, { name: 'A very long lamp' });
      expect(response.json.errors[0]).toMatchObject({
        path: ['prompt', 'productSummary'],
        extensions: {
          code: 'BAD_USER_INPUT',
          argument: 'productSummary',
          param: 'prompt',
          upstreamCode: 'context_length_exceeded',
        },
      });
    } finally {
      stubbed.stub.on('POST', '/completions', reply.completionOrStream());
    }
  });
});

describe('refused before any paid call', () => {
  const refusals: [string, string, Record<string, unknown>, Record<string, unknown>][] = [
    [
      'a value over its maxLength',
      summaryQuery,
      { name: 'x'.repeat(201) },
      { code: 'BAD_USER_INPUT', argument: 'name' },
    ],
    [
      'a maxLength counted in characters, not UTF-16 units (201 emoji)',
      summaryQuery,
      { name: '🐋'.repeat(201) },
      { code: 'BAD_USER_INPUT', argument: 'name' },
    ],
    [
      'an override out of range',
      summaryQuery,
      { name: 'x', overrides: { temperature: 5 } },
      { code: 'BAD_USER_INPUT', argument: 'overrides.temperature' },
    ],
    [
      'an override past the operation token ceiling',
      summaryQuery,
      { name: 'x', overrides: { maxTokens: 100_000 } },
      { code: 'COST_LIMIT_EXCEEDED', maxEstimatedTokens: 2_000 },
    ],
    [
      'two template fields where one paid field is allowed (aliases of the namespace)',
      '{ a: prompt { productSummary(name: "a") { text } } b: prompt { productSummary(name: "b") { text } } }',
      {},
      { code: 'MAX_COMPLETIONS_EXCEEDED', completionFields: 2, maxCompletions: 1 },
    ],
    [
      'two template fields under one namespace, through a fragment',
      '{ prompt { productSummary(name: "a") { text } ...F } } fragment F on PromptTemplates { t: tagline(product: "b") { text } }',
      {},
      { code: 'MAX_COMPLETIONS_EXCEEDED', completionFields: 2 },
    ],
    [
      'a missing required variable',
      '{ prompt { productSummary { text } } }',
      {},
      { code: 'GRAPHQL_VALIDATION_FAILED' },
    ],
  ];
  it.each(refusals)('%s', async (_name, query, variables, extensions) => {
    const before = hits();
    const response = await stubbed.app.post(query, variables);
    expect(response.json.data ?? null).toBeNull();
    expect(response.json.errors[0].extensions).toMatchObject(extensions);
    expect(hits() - before).toBe(0);
  });

  it('@skip leaves a field unpriced and uncalled; __typename alone costs nothing', async () => {
    const before = hits();
    const response = await stubbed.app.post(
      'query ($no: Boolean!) { prompt { __typename productSummary(name: "a") @skip(if: $no) { text } } }',
      { no: true },
    );
    expect(response.json).toMatchObject({ data: { prompt: { __typename: 'PromptTemplates' } } });
    expect(response.json.extensions?.usage).toBeUndefined();
    expect(hits() - before).toBe(0);
  });

  it('a GET that would run a template field without the CSRF header (a cross-site <img>)', async () => {
    const before = hits();
    const url = `${stubbed.app.graphqlUrl}?query=${encodeURIComponent('{ prompt { productSummary(name: "a") { text } } }')}`;
    const response = await fetch(url, { headers: { accept: 'application/graphql-response+json' } });
    expect(response.status).toBe(403);
    expect((await response.json()).errors[0].extensions.code).toBe('CSRF_HEADER_REQUIRED');
    expect(hits() - before).toBe(0);
    // A free query over GET still works, and so does a paid one with the header.
    expect(
      (await fetch(`${stubbed.app.graphqlUrl}?query=${encodeURIComponent('{ prompt { __typename } }')}`))
        .status,
    ).toBe(200);
    const allowed = await fetch(url, { headers: { 'x-graphql-yoga-csrf': '1' } });
    expect((await allowed.json()).data.prompt.productSummary.text).toContain('Raptors');
    expect(hits() - before).toBe(1);
  });
});

describe('charged to the caller like createCompletion', () => {
  it('is refused by the client token budget with no call when its price does not fit', async () => {
    // Priced at its prompt tokens + 80 (maxTokens): more than 60 before anything is sent.
    const tight = await startStubbedApp({
      app: {
        prompts: { templates, allowRawPrompts: true },
        rateLimit: { requestsPerMinute: 1000, tokensPerMinute: 60 },
      },
    });
    tight.stub.on('POST', '/completions', reply.completionOrStream());
    try {
      const response = await tight.app.post(summaryQuery, { name: 'Lamp' });
      expect(response.json.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED' });
      expect(tight.stub.hits('/completions')).toBe(0);
    } finally {
      await stopStubbedApp(tight);
    }
  });

  it("is recorded in the caller's usage ledger", async () => {
    const storage = await createStorage({ sqlitePath: ':memory:' });
    const ledgered = await startStubbedApp({
      app: { prompts: { templates, allowRawPrompts: true }, storage },
    });
    ledgered.stub.on('POST', '/completions', reply.completionOrStream());
    try {
      await ledgered.app.post(summaryQuery, { name: 'Lamp' });
      await ledgered.app.app.close(100);
      // Closing flushes the ledger's batch; the entry is the template call's.
      expect(await storage.usage.forClient('anonymous')).toEqual([
        expect.objectContaining({ requests: 1, promptTokens: 10, completionTokens: 12 }),
      ]);
    } finally {
      await ledgered.stub.close();
      await storage.close();
    }
  });
});
