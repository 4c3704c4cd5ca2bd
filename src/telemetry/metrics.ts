import { Counter, Gauge, Registry } from 'prom-client';
import { extended } from '../runtime/objects.js';
import { BoundedLabel } from './bounded-label.js';
import {
  type CounterSeries,
  Counter as FastCounter,
  Histogram as FastHistogram,
  type HistogramSeries,
} from './series.js';

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

  const tokenUsage = new FastHistogram(
    'gen_ai_client_token_usage',
    'Tokens used per GenAI call, by gen_ai_token_type (input, output).',
    tokenBuckets,
    registry,
  );
  const duration = new FastHistogram(
    'gen_ai_client_operation_duration_seconds',
    'Duration of a GenAI call, from the request to its last byte.',
    durationBuckets,
    registry,
  );
  const timeToFirstChunk = new FastHistogram(
    'gen_ai_client_operation_time_to_first_chunk_seconds',
    'Streamed GenAI calls: time from the request to the first chunk.',
    firstChunkBuckets,
    registry,
  );
  const timePerChunk = new FastHistogram(
    'gen_ai_client_operation_time_per_output_chunk_seconds',
    'Streamed GenAI calls: time between one chunk and the next, after the first.',
    perChunkBuckets,
    registry,
  );
  const operations = new FastHistogram(
    'graphql_server_operation_duration_seconds',
    'GraphQL operations by type, name (bounded) and outcome code (OK when no error).',
    operationBuckets,
    registry,
  );
  const attempts = new FastCounter(
    'upstream_attempts_total',
    'HTTP attempts to the upstream by status (or connection_error), and whether each was retried.',
    registry,
  );
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
  const costUsd = new FastCounter(
    'gen_ai_client_cost_usd_total',
    'What paid calls cost in USD, from the price table, by client and response model.',
    registry,
  );
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

  // A series is found by one key string of its (bounded) label values; its label object is built
  // once, when the series is first seen.
  // A failed call names no new model: any text a client sends as a model fails upstream.
  const genAiKey = (a: GenAiAttributes) =>
    `${a.providerName}\u0000${models.of(a.requestModel, a.errorType === undefined)}\u0000${a.responseModel === undefined ? '' : models.of(a.responseModel)}\u0000${a.errorType ?? ''}`;
  const labels = (a: GenAiAttributes) => ({
    gen_ai_operation_name: 'text_completion',
    gen_ai_provider_name: a.providerName,
    gen_ai_request_model: models.of(a.requestModel, a.errorType === undefined),
    gen_ai_response_model: a.responseModel === undefined ? '' : models.of(a.responseModel),
    error_type: a.errorType ?? '',
  });
  const genAi = (histogram: FastHistogram, a: GenAiAttributes) => {
    const key = genAiKey(a);
    return histogram.find(key) ?? histogram.add(key, labels(a));
  };
  // What a finished call observes, found by one key (not one per histogram); a series is added on
  // its first observation, as elsewhere (a failed call has no token series).
  interface CallSeries {
    readonly key: string;
    readonly attributes: GenAiAttributes;
    duration?: HistogramSeries;
    input?: HistogramSeries;
    output?: HistogramSeries;
  }
  const calls = new Map<string, CallSeries>();
  const callSeries = (attributes: GenAiAttributes): CallSeries => {
    const key = genAiKey(attributes);
    let found = calls.get(key);
    if (found === undefined) {
      found = { key, attributes };
      calls.set(key, found);
    }
    return found;
  };
  const tokens = (series: CallSeries, type: 'input' | 'output') => {
    const key = `${type}\u0000${series.key}`;
    return (
      tokenUsage.find(key) ??
      tokenUsage.add(key, extended(labels(series.attributes), { gen_ai_token_type: type }))
    );
  };
  // Upstream attempts by status: [not retried, retried].
  const attemptSeries = new Map<string, (CounterSeries | undefined)[]>();

  return {
    registry,
    openStreams,
    watchWebSockets(count) {
      webSockets = count;
    },
    call(attributes, seconds, used) {
      const series = callSeries(attributes);
      series.duration ??= duration.find(series.key) ?? duration.add(series.key, labels(attributes));
      series.duration.observe(seconds);
      if (used === undefined) return;
      series.input ??= tokens(series, 'input');
      series.input.observe(used.input);
      series.output ??= tokens(series, 'output');
      series.output.observe(used.output);
    },
    firstChunk: (attributes, seconds) => genAi(timeToFirstChunk, attributes).observe(seconds),
    nextChunk: (attributes, seconds) => genAi(timePerChunk, attributes).observe(seconds),
    operation(type, name, outcome, seconds) {
      // Only an operation that succeeded names a new one (a refused one under a random name does not).
      const operationName = name ? operationNames.of(name, outcome === 'OK') : '';
      const key = `${type}\u0000${operationName}\u0000${outcome}`;
      const series =
        operations.find(key) ??
        operations.add(key, { graphql_operation_type: type, graphql_operation_name: operationName, outcome });
      series.observe(seconds);
    },
    upstreamAttempt(status, retried) {
      let pair = attemptSeries.get(status);
      if (pair === undefined) {
        pair = [undefined, undefined];
        attemptSeries.set(status, pair);
      }
      const index = retried ? 1 : 0;
      let series = pair[index];
      if (series === undefined) {
        series = attempts.add(`${status}\u0000${retried}`, { status, retried: String(retried) });
        pair[index] = series;
      }
      series.inc();
    },
    rateLimitRefusal: (limit) => refusals.inc({ limit }),
    writeFailure: (store) => writeFailures.inc({ store }),
    promptCache(template, hits, misses) {
      // Template names come from PROMPTS_FILE: a bounded set the operator wrote.
      if (hits > 0) promptCacheResults.inc({ template, outcome: 'hit' }, hits);
      if (misses > 0) promptCacheResults.inc({ template, outcome: 'miss' }, misses);
    },
    cost(client, model, usd) {
      if (!(usd > 0)) return;
      const clientLabel = clients.of(client);
      const modelLabel = models.of(model);
      const key = `${clientLabel}\u0000${modelLabel}`;
      const series =
        costUsd.find(key) ?? costUsd.add(key, { client: clientLabel, gen_ai_response_model: modelLabel });
      series.inc(usd);
    },
    watchBreaker(name, state) {
      breakers.set(name, state);
    },
  };
}
