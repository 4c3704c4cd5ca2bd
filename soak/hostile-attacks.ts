/**
 * What the hostile client sends. Every paid-looking operation is built around a marker
 * (`HOSTILE-<n>`) that its prompts carry, so that the stub upstream can count any call one of them
 * caused. Limit evasions must all be refused before a call; expensive prompts may be refused or run
 * (priced by their bytes), but must not hold up the event loop.
 */
export type Category = 'limit evasion' | 'expensive prompt';
export type GraphQLTransport = 'http' | 'sse' | 'ws';

export interface GraphQLRequest {
  query: string;
  variables?: Record<string, unknown>;
  operationName?: string;
}

export interface GraphQLAttack {
  name: string;
  category: Category;
  transports: readonly GraphQLTransport[];
  /** One request, or a batch (an array body, refused as such). */
  build(marker: string): GraphQLRequest | GraphQLRequest[];
}

export interface RestAttack {
  name: string;
  category: Category;
  build(marker: string): Record<string, unknown>;
}

const model = 'gpt-3.5-turbo-instruct';
const huge = 10_000_000;
const text = (marker: string) => `${marker} Who won the 2019 NBA Finals?`;
const input = (marker: string, extra: Record<string, unknown> = {}) => ({
  model,
  prompt: { text: text(marker) },
  maxTokens: 16,
  ...extra,
});
const one = (marker: string) => ({ i: input(marker) });
const all: readonly GraphQLTransport[] = ['http', 'sse', 'ws'];
/** A subscription has one root field by rule; only the event-stream transports run one. */
const streaming: readonly GraphQLTransport[] = ['sse', 'ws'];
const evasion = (name: string, build: GraphQLAttack['build'], transports = all): GraphQLAttack => ({
  name,
  category: 'limit evasion',
  transports,
  build,
});
const fields = '{ id choices { text } }';
const paid = (alias: string, variable = '$i') => `${alias}: createCompletion(input: ${variable}) ${fields}`;
const declare = 'mutation ($i: CreateCompletionInput!';

export const graphqlAttacks: readonly GraphQLAttack[] = [
  evasion('3 aliases of createCompletion', (m) => ({
    query: `${declare}) { ${paid('a')} ${paid('b')} ${paid('c')} }`,
    variables: one(m),
  })),
  evasion('2 named fragments', (m) => ({
    query: `${declare}) { ...F ...G } fragment F on Mutation { ${paid('a')} } fragment G on Mutation { ${paid('b')} }`,
    variables: one(m),
  })),
  evasion('2 inline fragments', (m) => ({
    query: `${declare}) { ... on Mutation { ${paid('a')} } ... { ${paid('b')} } }`,
    variables: one(m),
  })),
  evasion('operationName picks the operation with 2 fields', (m) => ({
    query: `mutation One($i: CreateCompletionInput!) { ${paid('a')} } mutation Two($i: CreateCompletionInput!) { ${paid('a')} ${paid('b')} }`,
    variables: one(m),
    operationName: 'Two',
  })),
  evasion('maxTokens 10,000,000', (m) => ({
    query: `${declare}) { ${paid('a')} }`,
    variables: { i: input(m, { maxTokens: huge }) },
  })),
  evasion('maxTokens 2^31−1 as a literal', (m) => ({
    query: `mutation { a: createCompletion(input: { model: "${model}", prompt: { text: "${text(m)}" }, maxTokens: 2147483647 }) ${fields} }`,
  })),
  evasion('n 20 × bestOf 20 × maxTokens 900', (m) => ({
    query: `${declare}) { ${paid('a')} }`,
    variables: { i: input(m, { n: 20, bestOf: 20, maxTokens: 900 }) },
  })),
  evasion('64 prompts × maxTokens 300', (m) => ({
    query: `${declare}) { ${paid('a')} }`,
    variables: { i: { ...input(m, { maxTokens: 300 }), prompt: { texts: Array(64).fill(text(m)) } } },
  })),
  evasion('explicit null for a defaulted variable beside maxTokens 10,000,000', (m) => ({
    query: `mutation ($ok: CreateCompletionInput!, $bad: CreateCompletionInput = {model: "m", prompt: {text: "d"}}) { ${paid('a', '$ok')} ${paid('b', '$bad')} }`,
    variables: { ok: input(m, { maxTokens: huge }), bad: null },
  })),
  evasion('@skip(if: false) on a second alias', (m) => ({
    query: `${declare}) { ${paid('a')} b: createCompletion(input: $i) @skip(if: false) ${fields} }`,
    variables: one(m),
  })),
  evasion('@include(if: $yes) on a second alias', (m) => ({
    query: `${declare}, $yes: Boolean!) { ${paid('a')} b: createCompletion(input: $i) @include(if: $yes) ${fields} }`,
    variables: { ...one(m), yes: true },
  })),
  evasion('@include with a defaulted true variable on a second alias', (m) => ({
    query: `${declare}, $yes: Boolean = true) { ${paid('a')} b: createCompletion(input: $i) @include(if: $yes) ${fields} }`,
    variables: one(m),
  })),
  evasion('@skip(if: $no) on a fragment with maxTokens 10,000,000', (m) => ({
    query: `${declare}, $no: Boolean!) { ...F @skip(if: $no) } fragment F on Mutation { ${paid('a')} }`,
    variables: { i: input(m, { maxTokens: huge }), no: false },
  })),
  evasion(
    'batch of 2 operations in one body',
    (m) => [
      { query: `${declare}) { ${paid('a')} }`, variables: one(m) },
      { query: `${declare}) { ${paid('a')} }`, variables: one(m) },
    ],
    ['http'],
  ),
  evasion(
    'subscription with maxTokens 10,000,000',
    (m) => ({
      query: 'subscription ($i: CreateCompletionInput!) { completionStream(input: $i) { id } }',
      variables: { i: input(m, { maxTokens: huge }) },
    }),
    streaming,
  ),
  evasion(
    'subscription in a fragment, 16 prompts × maxTokens 1,100',
    (m) => ({
      query:
        'subscription ($i: CreateCompletionInput!) { ...S } fragment S on Subscription { completionStream(input: $i) { id } }',
      variables: { i: { ...input(m, { maxTokens: 1_100 }), prompt: { texts: Array(16).fill(text(m)) } } },
    }),
    streaming,
  ),
];

export const restAttacks: readonly RestAttack[] = [
  { name: 'max_tokens 10,000,000', max_tokens: huge },
  { name: 'n 20 × best_of 20 × max_tokens 900', n: 20, best_of: 20, max_tokens: 900 },
  { name: 'stream with max_tokens 10,000,000', stream: true, max_tokens: huge },
  { name: 'max_tokens 1e308', max_tokens: 1e308 },
].map(
  ({ name, ...body }): RestAttack => ({
    name,
    category: 'limit evasion',
    build: (marker) => ({ model, prompt: text(marker), ...body }),
  }),
);

/** Costly to tokenize: long runs without the spaces a BPE splits on. Built once, reused. */
const costly: readonly [string, string][] = [
  [
    '500 KB of CJK letters, no spaces',
    Array.from({ length: 170_000 }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7919) % 20_000))).join(''),
  ],
  ['200 KB of one punctuation character', '!'.repeat(200_000)],
  ['300 KB of spaces', ' '.repeat(300_000)],
];

export const expensiveGraphql: readonly GraphQLAttack[] = costly.map(([name, filler]) => ({
  name,
  category: 'expensive prompt',
  transports: ['http', 'ws'],
  build: (marker: string) => ({
    query: `${declare}) { ${paid('a')} }`,
    variables: { i: { model, prompt: { text: `${marker} ${filler}` }, maxTokens: 16 } },
  }),
}));

export const expensiveRest: readonly RestAttack[] = costly.map(([name, filler]) => ({
  name,
  category: 'expensive prompt',
  build: (marker: string) => ({ model, prompt: `${marker} ${filler}`, max_tokens: 16 }),
}));

/**
 * A connection_init of `bytes`, padded, with a valid key: a service without a cap before the ack
 * would acknowledge it, so only a refusal of its size closes the socket.
 */
export function paddedInit(bytes: number, authorization: string): Buffer {
  const head = JSON.stringify({ type: 'connection_init', payload: { authorization, pad: '' } }).slice(0, -3);
  return Buffer.from(`${head}${'a'.repeat(bytes - head.length - 3)}"}}`);
}
