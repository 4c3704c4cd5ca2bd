/**
 * Section 9: template entity fields and the result cache, through the service as `npm start` runs
 * it (`service-templates.ts`: `src/main.ts` configured by its environment, `PROMPTS_FILE` written
 * into a temporary directory, SQLite there too), in front of the instant stub upstream.
 * - N = 20 products through ONE `_entities` request, as a gateway sends it, vs the same 20 prompts
 *   as 20 separate `createCompletion` operations: upstream calls (counted at the stub: 1 vs 20) and
 *   service CPU per entity, in alternating rounds, median round. Target: ≤ 0.5× the separate calls.
 * - A template with `cache: { ttlSeconds: 3600, reuse: always }`: requests per second when every
 *   request repeats the same arguments (hits, after one priming call) vs when every request has
 *   its own (misses). Black box: a hit is an answer saying `cached: true`. Target: hits ≥ 5× misses.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { type BenchChild, childrenCpuPerCall, serviceEnv, startChild } from './children.js';
import { log, measureThroughput, percentile, round } from './stats.js';
import type { Row } from './table.js';
import { graphqlHeaders, model } from './workload.js';

const SECTION = '9. entities & cache';
const PRODUCTS = 20;
const CONCURRENCY = 16;
const ROUNDS = 5;
/** Per round: `_entities` requests (× 20 entities) and, as many entities, createCompletion calls. */
const ENTITY_REQUESTS = 100;
const CACHE_REQUESTS = 1_000;
const CACHE_ROUNDS = 3;

const promptText =
  'Summarize for a shop listing, in two sentences.\nName: {{name}}\nDescription: {{description}}\nSummary:';
const variables =
  '{ name: { type: String!, maxLength: 200 }, description: { type: String, maxLength: 4000 } }';
const parameters = { maxTokens: 16, temperature: 0.7 };

/**
 * productSummary (temperature 0.7, no seed, no cache: every call reaches the upstream) is also
 * Product.aiSummary; cachedSummary is the same prompt with `reuse: always`.
 */
const promptsFile = `templates:
  productSummary:
    description: A product summary (bench).
    prompt: ${JSON.stringify(promptText)}
    variables: ${variables}
    model: ${model}
    parameters: ${JSON.stringify(parameters)}
    entity: { type: Product, key: id, field: aiSummary, requires: { name: String!, description: String } }
  cachedSummary:
    description: The same summary, reused for an hour whatever its temperature (bench).
    prompt: ${JSON.stringify(promptText)}
    variables: ${variables}
    model: ${model}
    parameters: ${JSON.stringify(parameters)}
    cache: { ttlSeconds: 3600, reuse: always }
`;

const products = Array.from({ length: PRODUCTS }, (_, i) => ({
  __typename: 'Product',
  id: `p${i}`,
  name: `Product ${i}`,
  description: `Made of thing ${i}, ${i * 3} cm`,
}));

/** What the gateway sends for `{ products { aiSummary { text } } }`. */
const entitiesBody = JSON.stringify({
  query: 'query($r:[_Any!]!){ _entities(representations:$r){ ... on Product { aiSummary { text } } } }',
  variables: { r: products },
});

/** The same prompts, rendered as the template renders them, one createCompletion each. */
const separateBodies = products.map((product) =>
  JSON.stringify({
    query:
      'mutation Create($input: CreateCompletionInput!) { createCompletion(input: $input) { choices { text } } }',
    variables: {
      input: {
        model,
        prompt: {
          text: promptText.replace('{{name}}', product.name).replace('{{description}}', product.description),
        },
        ...parameters,
      },
    },
  }),
);

const cachedQuery =
  'query($name:String!,$d:String){ prompt { cachedSummary(name:$name, description:$d) { text cached } } }';
const cachedBody = (name: string) =>
  JSON.stringify({ query: cachedQuery, variables: { name, d: 'Brass, 40 cm' } });

interface Answer {
  data?: {
    _entities?: ({ aiSummary: { text: string } | null } | null)[];
    createCompletion?: { choices: { text: string }[] };
    prompt?: { cachedSummary: { text: string; cached: boolean } | null };
  };
  errors?: unknown;
}

/** Environment the bench process may carry that would change the service measured: cleared. */
const cleared = Object.fromEntries(
  [
    'REDIS_URL',
    'DATABASE_URL',
    'CLIENT_KEYS',
    'CLIENT_KEYS_FILE',
    'UPSTREAMS_FILE',
    'TRUSTED_DOCUMENTS_FILE',
    'PRICES_FILE',
    'METRICS_PORT',
    'OTEL_EXPORTER_OTLP_ENDPOINT',
    'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  ].map((name) => [name, '']),
);

export async function runEntitiesBench(stub: BenchChild): Promise<Row[]> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-entities-'));
  await writeFile(join(dir, 'prompts.yaml'), promptsFile);
  const service = await startChild('service-templates.ts', {
    ...cleared,
    ...serviceEnv,
    UPSTREAM: 'openai',
    OPENAI_BASE_URL: `${stub.origin}/v1`,
    OPENAI_API_KEY: 'sk-bench-not-a-secret',
    PROMPTS_FILE: join(dir, 'prompts.yaml'),
    ALLOW_RAW_PROMPTS: 'true',
    SQLITE_PATH: join(dir, 'bench.sqlite'),
    RATE_LIMIT_REQUESTS_PER_MINUTE: '0',
    RATE_LIMIT_TOKENS_PER_MINUTE: '0',
    LOG_LEVEL: 'silent',
    LOG_PRETTY: 'false',
    OTEL_SDK_DISABLED: 'true',
    SHUTDOWN_DELAY_MS: '0',
    SHUTDOWN_GRACE_MS: '200',
  });
  const agent = new Agent({ connections: CONCURRENCY, keepAliveTimeout: 30_000 });
  const post = async (body: string): Promise<Answer> => {
    const response = await request(`${service.origin}/graphql`, {
      method: 'POST',
      headers: graphqlHeaders,
      body,
      dispatcher: agent,
    });
    const text = await response.body.text();
    const json = JSON.parse(text) as Answer;
    if (response.statusCode !== 200 || json.errors !== undefined)
      throw new Error(`service answered ${response.statusCode}: ${text.slice(0, 300)}`);
    return json;
  };
  const upstreamCalls = async () => (await stub.rpc<{ requests: number }>('stats')).requests;
  const batchedPrompts = async () => (await stub.rpc<{ batchedPrompts: number }>('stats')).batchedPrompts;

  const entities = async () => {
    const texts = (await post(entitiesBody)).data?._entities?.map((entity) => entity?.aiSummary?.text);
    if (texts?.length !== PRODUCTS || texts.some((text) => typeof text !== 'string'))
      throw new Error(`_entities: ${PRODUCTS} summaries expected, got ${JSON.stringify(texts)}`);
  };
  const separate = async (i: number) => {
    const json = await post(separateBodies[i % PRODUCTS] ?? '');
    if (typeof json.data?.createCompletion?.choices[0]?.text !== 'string')
      throw new Error('createCompletion: no text');
  };

  try {
    // Upstream calls for the same 20 products, each way.
    let before = await upstreamCalls();
    const promptsBefore = await batchedPrompts();
    await entities();
    const entityCalls = (await upstreamCalls()) - before;
    const promptsSent = (await batchedPrompts()) - promptsBefore;
    before = await upstreamCalls();
    for (let i = 0; i < PRODUCTS; i++) await separate(i);
    const separateCalls = (await upstreamCalls()) - before;

    // Service CPU per entity, alternating rounds after a warm-up of each.
    await measureThroughput(ENTITY_REQUESTS / 2, CONCURRENCY, entities);
    await measureThroughput((ENTITY_REQUESTS / 2) * PRODUCTS, CONCURRENCY, separate);
    const perEntity: number[] = [];
    const perCall: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      log(`entities: round ${r + 1} of ${ROUNDS}`);
      const runEntities = async () => {
        const [cpu = 0] = await childrenCpuPerCall([service], ENTITY_REQUESTS * PRODUCTS, () =>
          measureThroughput(ENTITY_REQUESTS, CONCURRENCY, entities),
        );
        perEntity.push(cpu);
      };
      const runSeparate = async () => {
        const [cpu = 0] = await childrenCpuPerCall([service], ENTITY_REQUESTS * PRODUCTS, () =>
          measureThroughput(ENTITY_REQUESTS * PRODUCTS, CONCURRENCY, separate),
        );
        perCall.push(cpu);
      };
      if (r % 2 === 0) {
        await runEntities();
        await runSeparate();
      } else {
        await runSeparate();
        await runEntities();
      }
    }
    const entityCpu = percentile(perEntity, 50);
    const separateCpu = percentile(perCall, 50);
    const cpuRatio = entityCpu / separateCpu;

    // Cache: hits (one priming call, then the same arguments) vs misses (new arguments each time).
    const run = `${process.pid}-${Date.now()}`;
    let missIndex = 0;
    let hitsCached = 0;
    let missesCached = 0;
    const miss = async () => {
      const answer = (await post(cachedBody(`Lamp ${run} ${missIndex++}`))).data?.prompt?.cachedSummary;
      if (answer?.cached) missesCached++;
    };
    const hit = async () => {
      const answer = (await post(cachedBody(`Lamp ${run}`))).data?.prompt?.cachedSummary;
      if (answer?.cached) hitsCached++;
    };
    await hit();
    hitsCached = 0;
    await measureThroughput(CACHE_REQUESTS / 4, CONCURRENCY, miss);
    await measureThroughput(CACHE_REQUESTS / 4, CONCURRENCY, hit);
    hitsCached = 0;
    missesCached = 0;
    const missRates: number[] = [];
    const hitRates: number[] = [];
    let missCalls = 0;
    let hitCalls = 0;
    for (let r = 0; r < CACHE_ROUNDS; r++) {
      log(`cache: round ${r + 1} of ${CACHE_ROUNDS}`);
      const order = r % 2 === 0 ? (['miss', 'hit'] as const) : (['hit', 'miss'] as const);
      for (const kind of order) {
        const calls = await upstreamCalls();
        const { perSecond } = await measureThroughput(
          CACHE_REQUESTS,
          CONCURRENCY,
          kind === 'hit' ? hit : miss,
        );
        const made = (await upstreamCalls()) - calls;
        if (kind === 'hit') {
          hitRates.push(perSecond);
          hitCalls += made;
        } else {
          missRates.push(perSecond);
          missCalls += made;
        }
      }
    }
    const asked = CACHE_REQUESTS * CACHE_ROUNDS;
    const missRate = percentile(missRates, 50);
    const hitRate = percentile(hitRates, 50);
    const cacheRatio = hitRate / missRate;

    return [
      {
        section: SECTION,
        metric: `upstream calls for ${PRODUCTS} products: one \`_entities\` request (its call carried ${promptsSent} prompts) vs ${PRODUCTS} separate \`createCompletion\``,
        value: entityCalls,
        unit: '',
        baseline: separateCalls,
        ratio: entityCalls / separateCalls,
        target: `1 vs ${PRODUCTS}`,
        pass: entityCalls === 1 && promptsSent === PRODUCTS && separateCalls === PRODUCTS,
      },
      {
        section: SECTION,
        metric: `service CPU per entity: ${PRODUCTS} per \`_entities\` request vs one \`createCompletion\` each (c=${CONCURRENCY}, median of ${ROUNDS} rounds)`,
        value: round(entityCpu, 0),
        unit: 'µs',
        baseline: round(separateCpu, 0),
        ratio: cpuRatio,
        target: '≤ 0.5×',
        pass: cpuRatio <= 0.5,
      },
      {
        section: SECTION,
        metric: `template field, cache misses (new arguments each: ${missCalls} upstream calls, ${missesCached} of ${asked} answers \`cached: true\`) (c=${CONCURRENCY}, median of ${CACHE_ROUNDS} rounds)`,
        value: round(missRate, 0),
        unit: 'req/s',
      },
      {
        section: SECTION,
        metric: `… cache hits (the same arguments: ${hitCalls} upstream calls, ${hitsCached} of ${asked} answers \`cached: true\`)`,
        value: round(hitRate, 0),
        unit: 'req/s',
        baseline: round(missRate, 0),
        ratio: cacheRatio,
        target: '≥ 5×',
        pass: cacheRatio >= 5 && hitsCached === asked && hitCalls === 0,
      },
    ];
  } finally {
    await agent.close();
    await service.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
