import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { BoundedLabel } from './bounded-label.js';

/**
 * The service's Prometheus metrics. The GenAI ones follow the OpenTelemetry GenAI semantic
 * conventions (names with dots spelt as underscores, their units and advisory bucket boundaries),
 * so dashboards written for other GenAI clients read them as they are.
 */

// Advisory boundaries from the GenAI semantic conventions.
const tokenBuckets = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];
const durationBuckets = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
const firstChunkBuckets = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];
const perChunkBuckets = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5];
const operationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** The attributes of one GenAI call, as the conventions name them. */
export interface GenAiAttributes {
  providerName: string;
  requestModel: string;
  responseModel?: string;
  /** A stable error code; absent when the call succeeded. */
  errorType?: string;
}

export type BreakerStateReader = () => 'closed' | 'open' | 'half-open';

const genAiLabels = [
  'gen_ai_operation_name',
  'gen_ai_provider_name',
  'gen_ai_request_model',
  'gen_ai_response_model',
  'error_type',
] as const;

export interface Metrics {
  readonly registry: Registry;
  /** One upstream call ended (a stream at its last chunk), with what it used. */
  call(attributes: GenAiAttributes, seconds: number, tokens?: { input: number; output: number }): void;
  firstChunk(attributes: GenAiAttributes, seconds: number): void;
  nextChunk(attributes: GenAiAttributes, seconds: number): void;
  operation(type: string, name: string | null | undefined, outcome: string, seconds: number): void;
  upstreamAttempt(status: string, retried: boolean): void;
  rateLimitRefusal(limit: string): void;
  writeFailure(store: 'completions' | 'ledger' | 'prompt_cache'): void;
  /** Template results reused from the cache (hits) and made by an upstream call (misses). */
  promptCache(template: string, hits: number, misses: number): void;
  cost(client: string, model: string, usd: number): void;
  /** Streams open now. */
  readonly openStreams: Gauge;
  /** Read at scrape time: the WebSocket connections open now. */
  watchWebSockets(count: () => number): void;
  /** Read at scrape time: the state of each named circuit breaker. */
  watchBreaker(name: string, state: BreakerStateReader): void;
}

export function createMetrics(options: { knownOperationNames?: Iterable<string> } = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  // Label values a client chooses are bounded: past the first ones seen, they read `other`.
  const operationNames = new BoundedLabel(200, options.knownOperationNames);
  const models = new BoundedLabel(100);
  const clients = new BoundedLabel(1000);

  const tokenUsage = new Histogram({
    name: 'gen_ai_client_token_usage',
    help: 'Tokens used per GenAI call, by gen_ai_token_type (input, output).',
    labelNames: [...genAiLabels, 'gen_ai_token_type'],
    buckets: tokenBuckets,
    registers,
  });
  const duration = new Histogram({
    name: 'gen_ai_client_operation_duration_seconds',
    help: 'Duration of a GenAI call, from the request to its last byte.',
    labelNames: genAiLabels,
    buckets: durationBuckets,
    registers,
  });
  const timeToFirstChunk = new Histogram({
    name: 'gen_ai_client_operation_time_to_first_chunk_seconds',
    help: 'Streamed GenAI calls: time from the request to the first chunk.',
    labelNames: genAiLabels,
    buckets: firstChunkBuckets,
    registers,
  });
  const timePerChunk = new Histogram({
    name: 'gen_ai_client_operation_time_per_output_chunk_seconds',
    help: 'Streamed GenAI calls: time between one chunk and the next, after the first.',
    labelNames: genAiLabels,
    buckets: perChunkBuckets,
    registers,
  });
  const operations = new Histogram({
    name: 'graphql_server_operation_duration_seconds',
    help: 'GraphQL operations by type, name (bounded) and outcome code (OK when no error).',
    labelNames: ['graphql_operation_type', 'graphql_operation_name', 'outcome'],
    buckets: operationBuckets,
    registers,
  });
  const attempts = new Counter({
    name: 'upstream_attempts_total',
    help: 'HTTP attempts to the upstream by status (or connection_error), and whether each was retried.',
    labelNames: ['status', 'retried'],
    registers,
  });
  const refusals = new Counter({
    name: 'rate_limit_refusals_total',
    help: 'Paid calls refused by a client limit, by limit.',
    labelNames: ['limit'],
    registers,
  });
  const writeFailures = new Counter({
    name: 'store_write_failures_total',
    help: 'Writes that failed after a paid call: stored completions and usage-ledger batches.',
    labelNames: ['store'],
    registers,
  });
  const costUsd = new Counter({
    name: 'gen_ai_client_cost_usd_total',
    help: 'What paid calls cost in USD, from the price table, by client and response model.',
    labelNames: ['client', 'gen_ai_response_model'],
    registers,
  });
  // Known label values start at 0, so that rate() and the dashboard see the series before the first event.
  for (const limit of ['requests', 'tokens', 'limiter_unavailable']) refusals.inc({ limit }, 0);
  for (const store of ['completions', 'ledger', 'prompt_cache']) writeFailures.inc({ store }, 0);
  const promptCacheResults = new Counter({
    name: 'prompt_cache_results_total',
    help: 'Template results by outcome: hit (reused, no upstream call) or miss (made by a call), by template.',
    labelNames: ['template', 'outcome'],
    registers,
  });
  const breakers = new Map<string, BreakerStateReader>();
  new Gauge({
    name: 'upstream_circuit_breaker_state',
    help: 'Circuit breaker state by upstream: 0 closed, 1 half-open, 2 open.',
    labelNames: ['upstream'],
    registers,
    collect() {
      for (const [name, read] of breakers) {
        const state = read();
        this.set({ upstream: name }, state === 'closed' ? 0 : state === 'half-open' ? 1 : 2);
      }
    },
  });
  const openStreams = new Gauge({
    name: 'graphql_open_streams',
    help: 'Subscriptions (completion streams) running now, over every transport.',
    registers,
  });
  let webSockets = () => 0;
  new Gauge({
    name: 'graphql_ws_connections',
    help: 'GraphQL WebSocket connections open now.',
    registers,
    collect() {
      this.set(webSockets());
    },
  });

  // Label objects are written out as literals: a spread (`{ ...labels, more }`) builds an object
  // that prom-client hashes about three times slower, which was most of the cost of a call's metrics.
  const labels = (a: GenAiAttributes) => ({
    gen_ai_operation_name: 'text_completion',
    gen_ai_provider_name: a.providerName,
    gen_ai_request_model: models.of(a.requestModel),
    gen_ai_response_model: a.responseModel === undefined ? '' : models.of(a.responseModel),
    error_type: a.errorType ?? '',
  });
  // One property added to a fresh literal keeps its fast shape, unlike a spread into a new object.
  const tokenLabels = (a: GenAiAttributes, type: 'input' | 'output') =>
    Object.assign(labels(a), { gen_ai_token_type: type });

  return {
    registry,
    openStreams,
    watchWebSockets(count) {
      webSockets = count;
    },
    call(attributes, seconds, tokens) {
      duration.observe(labels(attributes), seconds);
      if (tokens === undefined) return;
      tokenUsage.observe(tokenLabels(attributes, 'input'), tokens.input);
      tokenUsage.observe(tokenLabels(attributes, 'output'), tokens.output);
    },
    firstChunk: (attributes, seconds) => timeToFirstChunk.observe(labels(attributes), seconds),
    nextChunk: (attributes, seconds) => timePerChunk.observe(labels(attributes), seconds),
    operation(type, name, outcome, seconds) {
      const operationName = name ? operationNames.of(name) : '';
      operations.observe(
        { graphql_operation_type: type, graphql_operation_name: operationName, outcome },
        seconds,
      );
    },
    upstreamAttempt: (status, retried) => attempts.inc({ status, retried: String(retried) }),
    rateLimitRefusal: (limit) => refusals.inc({ limit }),
    writeFailure: (store) => writeFailures.inc({ store }),
    promptCache(template, hits, misses) {
      // Template names come from PROMPTS_FILE: a bounded set the operator wrote.
      if (hits > 0) promptCacheResults.inc({ template, outcome: 'hit' }, hits);
      if (misses > 0) promptCacheResults.inc({ template, outcome: 'miss' }, misses);
    },
    cost(client, model, usd) {
      if (usd > 0) costUsd.inc({ client: clients.of(client), gen_ai_response_model: models.of(model) }, usd);
    },
    watchBreaker(name, state) {
      breakers.set(name, state);
    },
  };
}
