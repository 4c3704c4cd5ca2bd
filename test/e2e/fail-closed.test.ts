import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configDefaults } from '../../src/config.js';
import { sseClient, wsClient } from '../helpers/clients.js';
import { reply } from '../helpers/stub-upstream.js';
import { type StubbedApp, startStubbedApp, stopStubbedApp } from '../helpers/test-app.js';

/**
 * No paid call without a price: whatever an operation does to confuse the preflight (aliases,
 * fragments, @skip/@include on variables, defaults, explicit nulls, missing or wrongly typed
 * variables, @oneOf violations that only show up at run time), the upstream sees at most the
 * calls the preflight allowed, each within the operation's ceiling, and none when it refused.
 */

const maxCompletions = 2;
const maxEstimatedTokens = 200;

let stubbed: StubbedApp;

beforeAll(async () => {
  stubbed = await startStubbedApp({
    app: {
      limits: {
        ...configDefaults.limits,
        maxCompletionsPerOperation: maxCompletions,
        maxEstimatedTokensPerOperation: maxEstimatedTokens,
      },
    },
  });
  stubbed.stub.on('POST', '/completions', reply.completionOrStream());
});

afterAll(async () => {
  await stopStubbedApp(stubbed);
});

// ---- operations ------------------------------------------------------------------------------

const maxTokensValues = [1, 20, 90, 150, 5_000, 100_000];
const validInput = (maxTokens: number) => ({ model: 'm', prompt: { text: 'hi' }, maxTokens });

/** A variable's value as sent: a valid input, one only run time can refuse, nonsense, null, or nothing. */
const inputValue = fc.oneof(
  fc.constantFrom(...maxTokensValues).map((n) => ({ kind: 'set' as const, value: validInput(n) })),
  fc.constant({
    kind: 'set' as const,
    value: { model: 'm', prompt: { text: 'a', texts: ['b'] }, maxTokens: 5_000 },
  }),
  fc.constant({ kind: 'set' as const, value: { model: 'm', prompt: { text: 'hi' }, maxTokens: 'many' } }),
  fc.constant({ kind: 'set' as const, value: { model: 'm', prompt: {}, maxTokens: 5 } }),
  // The explicit null is the one that got past the old preflight: weighted up.
  { arbitrary: fc.constant({ kind: 'set' as const, value: null }), weight: 4 },
  fc.constant({ kind: 'missing' as const }),
);

const flagValue = fc.oneof(
  fc.constantFrom(true, false, null, 'yes').map((value) => ({ kind: 'set' as const, value })),
  fc.constant({ kind: 'missing' as const }),
);

const field = fc.record({
  alias: fc.constantFrom('a', 'b', 'c'),
  literal: fc.option(fc.constantFrom(...maxTokensValues), { nil: undefined }),
  inputType: fc.constantFrom(
    'CreateCompletionInput!',
    'CreateCompletionInput',
    'CreateCompletionInput! = {model: "m", prompt: {text: "d"}, maxTokens: 150}',
    // Nullable with a default: allowed in the non-null position, and an explicit null only fails
    // when the argument is read, after the variables coerced fine.
    'CreateCompletionInput = {model: "m", prompt: {text: "d"}, maxTokens: 20}',
  ),
  input: inputValue,
  wrap: fc.constantFrom('none', 'inline', 'typed-inline', 'fragment'),
  directive: fc.constantFrom('none', 'skip', 'include'),
  flagType: fc.constantFrom('Boolean!', 'Boolean', 'Boolean = true'),
  flag: flagValue,
});

type Field = typeof field extends fc.Arbitrary<infer T> ? T : never;

function buildOperation(kind: 'mutation' | 'subscription', fields: Field[]) {
  const rootType = kind === 'mutation' ? 'Mutation' : 'Subscription';
  const rootField = kind === 'mutation' ? 'createCompletion' : 'completionStream';
  const declarations: string[] = [];
  const variables: Record<string, unknown> = {};
  const fragments: string[] = [];
  const selections = fields.map((f, i) => {
    let input = `{ model: "m", prompt: { text: "hi" }, maxTokens: ${f.literal ?? 1} }`;
    if (f.literal === undefined) {
      input = `$in${i}`;
      declarations.push(`$in${i}: ${f.inputType}`);
      if (f.input.kind === 'set') variables[`in${i}`] = f.input.value;
    }
    let directive = '';
    if (f.directive !== 'none') {
      directive = ` @${f.directive}(if: $flag${i})`;
      declarations.push(`$flag${i}: ${f.flagType}`);
      if (f.flag.kind === 'set') variables[`flag${i}`] = f.flag.value;
    }
    const selection = `${f.alias}: ${rootField}(input: ${input})${directive} { id }`;
    if (f.wrap === 'inline') return `... { ${selection} }`;
    if (f.wrap === 'typed-inline') return `... on ${rootType} { ${selection} }`;
    if (f.wrap === 'fragment') {
      fragments.push(`fragment F${i} on ${rootType} { ${selection} }`);
      return `...F${i}`;
    }
    return selection;
  });
  const head = declarations.length > 0 ? `(${declarations.join(', ')})` : '';
  return { query: `${kind} Op${head} { ${selections.join(' ')} } ${fragments.join(' ')}`, variables };
}

// ---- what the upstream saw -------------------------------------------------------------------

interface Outcome {
  /** Refused as a whole: errors and no data at all. */
  refused: boolean;
}

const tally = { operations: 0, refused: 0, calls: 0 };

async function checkOperation(run: () => Promise<Outcome>, label: string): Promise<void> {
  const before = stubbed.stub.requests.length;
  const outcome = await run();
  const calls = stubbed.stub.requests.slice(before).filter((r) => r.path.endsWith('/completions'));
  tally.operations++;
  tally.calls += calls.length;
  if (outcome.refused) tally.refused++;
  const sent = calls.map((c) => c.json as { max_tokens?: number; n?: number; best_of?: number });
  // Each call carries an explicit max_tokens and all of them fit the operation's ceiling together.
  const spent = sent.reduce(
    (sum, body) =>
      sum + (body.max_tokens ?? Number.POSITIVE_INFINITY) * Math.max(body.n ?? 1, body.best_of ?? 1),
    0,
  );
  expect(calls.length, label).toBeLessThanOrEqual(maxCompletions);
  if (outcome.refused) expect(calls.length, `refused, yet called: ${label}`).toBe(0);
  expect(spent, label).toBeLessThanOrEqual(maxEstimatedTokens);
}

type Result = { data?: unknown; errors?: unknown[] };
const refusedResult = (result: Result | undefined) =>
  result === undefined ||
  (result.errors !== undefined && (result.data === undefined || result.data === null));

async function overHttp(query: string, variables: Record<string, unknown>): Promise<Outcome> {
  const response = await stubbed.app.post(query, variables);
  return { refused: refusedResult(response.json as Result) };
}

function overStream(client: () => ReturnType<typeof sseClient>) {
  return async (query: string, variables: Record<string, unknown>): Promise<Outcome> => {
    const c = client();
    try {
      const { events, error } = await c.run(query, variables);
      const first = events[0] as Result | undefined;
      return { refused: error !== undefined ? events.length === 0 : refusedResult(first) };
    } finally {
      await c.dispose();
    }
  };
}

const transports = {
  'HTTP POST': overHttp,
  'SSE on /graphql': overStream(() => sseClient(stubbed.app.graphqlUrl)),
  'graphql-sse single connection': overStream(() => sseClient(`${stubbed.app.origin}/graphql/stream`, true)),
  'graphql-ws': overStream(() => wsClient(stubbed.app.graphqlUrl)),
} as const;

describe.each(Object.entries(transports))('over %s', (name, send) => {
  const kinds = name === 'HTTP POST' ? (['mutation'] as const) : (['mutation', 'subscription'] as const);
  it.each(kinds)(
    'a generated %s never reaches the upstream beyond what the preflight allowed',
    async (kind) => {
      await fc.assert(
        fc.asyncProperty(fc.array(field, { minLength: 1, maxLength: 4 }), async (fields) => {
          const { query, variables } = buildOperation(kind, fields);
          await checkOperation(() => send(query, variables), `${query} ${JSON.stringify(variables)}`);
        }),
        { numRuns: 60, seed: 20261130 + kind.length + name.length },
      );
    },
  );
});

describe('known ways around a preflight that gives up', () => {
  const bypasses: [string, string, Record<string, unknown>][] = [
    [
      'an explicit null for a nullable variable with a default, in a non-null argument, beside a huge maxTokens',
      'mutation ($ok: CreateCompletionInput!, $bad: CreateCompletionInput = {model: "m", prompt: {text: "d"}}) { a: createCompletion(input: $ok) { id } b: createCompletion(input: $bad) { id } }',
      { ok: validInput(100_000), bad: null },
    ],
    [
      'the same with the huge field alone after a null prompt',
      'mutation ($p: PromptInput = {text: "d"}) { a: createCompletion(input: { model: "m", prompt: { text: "x" }, maxTokens: 100000 }) { id } b: createCompletion(input: { model: "m", prompt: $p }) { id } }',
      { p: null },
    ],
  ];
  it.each(bypasses)('%s: refused as a whole, 0 upstream calls', async (_name, query, variables) => {
    const before = stubbed.stub.hits('/completions');
    const response = await stubbed.app.post(query, variables);
    expect(response.json.data ?? null).toBeNull();
    expect(response.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(stubbed.stub.hits('/completions') - before).toBe(0);
  });
});

describe('the generated operations were not vacuous', () => {
  it('some ran paid calls and some were refused', () => {
    expect(tally.operations).toBeGreaterThan(200);
    expect(tally.calls).toBeGreaterThan(20);
    expect(tally.refused).toBeGreaterThan(20);
  });
});
