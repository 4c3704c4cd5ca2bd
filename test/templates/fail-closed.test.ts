import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configDefaults } from '../../src/config.js';
import { sseClient, wsClient } from '../helpers/clients.js';
import { reply } from '../helpers/stub-upstream.js';
import { type StubbedApp, startStubbedApp, stopStubbedApp } from '../helpers/test-app.js';
import { exampleTemplates } from './helpers.js';

/**
 * The standard of test/e2e/fail-closed.test.ts, for template fields: whatever an operation does
 * around `Query.prompt` (aliased namespaces, fragments on PromptTemplates, @skip/@include on
 * variables, overrides and values that only run time can refuse), the upstream sees at most the
 * calls allowed, each within the ceiling and each variable within its maxLength, and none at all
 * when the operation was refused.
 */

const maxCompletions = 2;
const maxEstimatedTokens = 300;

let stubbed: StubbedApp;
beforeAll(async () => {
  stubbed = await startStubbedApp({
    app: {
      prompts: { templates: exampleTemplates(), allowRawPrompts: true },
      limits: {
        ...configDefaults.limits,
        maxCompletionsPerOperation: maxCompletions,
        maxEstimatedTokensPerOperation: maxEstimatedTokens,
      },
    },
  });
  stubbed.stub.on('POST', '/completions', reply.completionOrStream());
});
afterAll(() => stopStubbedApp(stubbed));

const nameValue = fc.oneof(
  fc.constantFrom('Lamp', '{{description}}', 'x'.repeat(200), 'x'.repeat(201), '🐋'.repeat(201)),
  fc.constantFrom(null, 42),
);
const overridesValue = fc.oneof(
  fc.constantFrom(1, 20, 90, 150, 5_000).map((maxTokens) => ({ maxTokens })),
  fc.constantFrom(null, { temperature: 9 }, { maxTokens: null }, { maxTokens: 'many' }),
);
const slot = <T>(value: fc.Arbitrary<T>) =>
  fc.oneof(
    value.map((v) => ({ kind: 'set' as const, value: v })),
    fc.constant({ kind: 'missing' as const }),
  );

const field = fc.record({
  namespace: fc.constantFrom('prompt', 'p', 'q'),
  alias: fc.constantFrom('a', 'b'),
  template: fc.constantFrom('productSummary', 'tagline'),
  name: slot(nameValue),
  overrides: slot(overridesValue),
  wrap: fc.constantFrom('none', 'inline', 'fragment'),
  directive: fc.constantFrom('none', 'skip', 'include'),
  flag: slot(fc.constantFrom(true, false, null)),
});
type Field = typeof field extends fc.Arbitrary<infer T> ? T : never;

function buildOperation(fields: Field[]) {
  const declarations: string[] = [];
  const variables: Record<string, unknown> = {};
  const fragments: string[] = [];
  const selections = fields.map((f, i) => {
    const argName = f.template === 'productSummary' ? 'name' : 'product';
    declarations.push(`$v${i}: String = "Lamp"`, `$o${i}: TemplateOverrides`);
    if (f.name.kind === 'set') variables[`v${i}`] = f.name.value;
    if (f.overrides.kind === 'set') variables[`o${i}`] = f.overrides.value;
    let directive = '';
    if (f.directive !== 'none') {
      declarations.push(`$f${i}: Boolean = true`);
      if (f.flag.kind === 'set') variables[`f${i}`] = f.flag.value;
      directive = ` @${f.directive}(if: $f${i})`;
    }
    // A nullable variable with a default in a non-null argument: validation lets it pass, and only
    // coercing the arguments refuses an explicit null.
    const selection = `${f.alias}: ${f.template}(${argName}: $v${i}, overrides: $o${i})${directive} { text }`;
    const inner =
      f.wrap === 'inline'
        ? `... on PromptTemplates { ${selection} }`
        : f.wrap === 'fragment'
          ? `...F${i}`
          : selection;
    if (f.wrap === 'fragment') fragments.push(`fragment F${i} on PromptTemplates { ${selection} }`);
    return `${f.namespace}: prompt { ${inner} }`;
  });
  return {
    query: `query Op(${declarations.join(', ')}) { ${selections.join(' ')} } ${fragments.join(' ')}`,
    variables,
  };
}

type Result = { data?: unknown; errors?: unknown[] };
const refused = (result: Result | undefined) =>
  result === undefined ||
  (result.errors !== undefined && (result.data === undefined || result.data === null));

const tally = { operations: 0, refused: 0, calls: 0 };

async function check(run: () => Promise<boolean>, label: string) {
  const before = stubbed.stub.requests.length;
  const wasRefused = await run();
  const calls = stubbed.stub.requests.slice(before).filter((r) => r.path.endsWith('/completions'));
  tally.operations++;
  tally.calls += calls.length;
  if (wasRefused) tally.refused++;
  const sent = calls.map((c) => c.json as { prompt: string | string[]; max_tokens?: number; n?: number });
  expect(calls.length, label).toBeLessThanOrEqual(maxCompletions);
  if (wasRefused) expect(calls.length, `refused, yet called: ${label}`).toBe(0);
  const prompts = (b: (typeof sent)[number]) => (Array.isArray(b.prompt) ? b.prompt.length : 1);
  const spent = sent.reduce(
    (sum, b) => sum + (b.max_tokens ?? Number.POSITIVE_INFINITY) * (b.n ?? 1) * prompts(b),
    0,
  );
  expect(spent, label).toBeLessThanOrEqual(maxEstimatedTokens);
  for (const prompt of sent.flatMap((body) => body.prompt)) {
    // No value past its maxLength (200 for both templates' first variable) ever reached the upstream.
    const value = /Name: ([^\n]*)\n|tagline for ([^\n]*):$/.exec(prompt);
    expect([...(value?.[1] ?? value?.[2] ?? '')].length, label).toBeLessThanOrEqual(200);
  }
}

const overHttp = async (query: string, variables: Record<string, unknown>) =>
  refused((await stubbed.app.post(query, variables)).json as Result);

const overStream =
  (client: () => ReturnType<typeof sseClient>) =>
  async (query: string, variables: Record<string, unknown>) => {
    const c = client();
    try {
      const { events, error } = await c.run(query, variables);
      return error !== undefined ? events.length === 0 : refused(events[0] as Result | undefined);
    } finally {
      await c.dispose();
    }
  };

const transports = {
  'HTTP POST': overHttp,
  'SSE on /graphql': overStream(() => sseClient(stubbed.app.graphqlUrl)),
  'graphql-ws': overStream(() => wsClient(stubbed.app.graphqlUrl)),
} as const;

describe.each(Object.entries(transports))('over %s', (name, send) => {
  it('a generated template operation never reaches the upstream beyond what the preflight allowed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(field, { minLength: 1, maxLength: 4 }), async (fields) => {
        const { query, variables } = buildOperation(fields);
        await check(() => send(query, variables), `${query} ${JSON.stringify(variables)}`);
      }),
      { numRuns: 60, seed: 20261130 + name.length },
    );
  });
});

/** A gateway's `_entities` fetch: any number of products, some of them unusable, under aliases and directives. */
const representation = fc.oneof(
  fc.constantFrom('Lamp', 'Lamp', 'Lamp', 'x'.repeat(200), 'x'.repeat(201), null).map((name) => ({
    __typename: 'Product',
    id: '1',
    name,
  })),
  fc.constant({ __typename: 'Model', id: 'm' }),
);
const entitiesOperation = fc.record({
  // Up to 4: a batch of 2 fits the ceiling, more do not.
  representations: fc.array(representation, { maxLength: 4 }),
  aliases: fc.subarray(['s', 't', 'aiSummary'], { minLength: 1, maxLength: 2 }),
  second: fc.boolean(),
  skip: fc.constantFrom(true, false, null),
});

describe('over HTTP, _entities', () => {
  it('a generated entity fetch never reaches the upstream beyond what the preflight allowed', async () => {
    await fc.assert(
      fc.asyncProperty(entitiesOperation, async (op) => {
        const fields = op.aliases.map(
          (alias, i) => `${alias}: aiSummary${i === 0 ? ' @skip(if: $skip)' : ''} { text }`,
        );
        // The fragment is spread in a second, aliased _entities field or beside the others.
        const inline = `... on Product { ${fields.join(' ')} }${op.second ? '' : ' ...F'}`;
        const second = op.second ? ' e2: _entities(representations: $r) { ...F }' : '';
        const query = `query ($r: [_Any!]!, $skip: Boolean = false) { _entities(representations: $r) { ${inline} }${second} } fragment F on Product { f: aiSummary { text } }`;
        const variables = { r: op.representations, skip: op.skip };
        await check(() => overHttp(query, variables), `${query} ${JSON.stringify(variables)}`);
      }),
      { numRuns: 60, seed: 20261130 },
    );
  });
});

describe('the generated operations were not vacuous', () => {
  it('some ran paid calls and some were refused', () => {
    expect(tally.operations).toBeGreaterThanOrEqual(240);
    expect(tally.calls).toBeGreaterThan(20);
    expect(tally.refused).toBeGreaterThan(20);
  });
});
