/**
 * Section 2: what GraphQL adds to a non-streamed completion. The same keep-alive undici client
 * calls the stub directly (baseline) and `createCompletion` through the service (its own process,
 * in front of the same stub): latency one at a time, then throughput with some concurrency.
 */
import { Agent, request } from 'undici';
import { type BenchChild, childrenCpuPerCall } from './children.js';
import { log, measureThroughput, percentile, round } from './stats.js';
import type { Row } from './table.js';
import { createCompletionBody, graphqlHeaders, jsonHeaders, wireBody } from './workload.js';

const SECTION = '2. GraphQL overhead';
const WARMUP = 300;
const SEQUENTIAL = 1_000;
const LOADED = 3_000;
const CONCURRENCY = 16;

interface Result {
  p50: number;
  p99: number;
  perSecond: number;
  /** CPU µs per request in the stub and service processes, under load. */
  stubCpu: number;
  serviceCpu: number;
}

interface Target {
  name: string;
  call: () => Promise<void>;
}

async function postJson(agent: Agent, url: string, headers: Record<string, string>, body: string) {
  const response = await request(url, { method: 'POST', headers, body, dispatcher: agent });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`${url} answered ${response.statusCode}: ${text}`);
  return JSON.parse(text) as { data?: unknown; errors?: unknown; choices?: unknown };
}

export async function runGraphqlOverheadBench(stub: BenchChild, serviceChild: BenchChild): Promise<Row[]> {
  const stubOrigin = stub.origin;
  const serviceOrigin = serviceChild.origin;
  const agent = new Agent({ connections: CONCURRENCY, keepAliveTimeout: 30_000 });
  const direct: Target = {
    name: 'stub directly',
    call: async () => {
      const json = await postJson(agent, `${stubOrigin}/v1/completions`, jsonHeaders, wireBody);
      if (!Array.isArray(json.choices)) throw new Error('stub: no choices');
    },
  };
  const service: Target = {
    name: 'service createCompletion',
    call: async () => {
      const json = await postJson(agent, `${serviceOrigin}/graphql`, graphqlHeaders, createCompletionBody);
      if (json.errors !== undefined || json.data === undefined)
        throw new Error(`service: ${JSON.stringify(json.errors)}`);
    },
  };

  try {
    const results = new Map<string, Result>();
    for (const target of [direct, service]) {
      log(`GraphQL overhead: ${target.name}`);
      await measureThroughput(WARMUP, CONCURRENCY, target.call);
      const sequential = await measureThroughput(SEQUENTIAL, 1, target.call);
      let perSecond = 0;
      const [stubCpu = 0, serviceCpu = 0] = await childrenCpuPerCall(
        [stub, serviceChild],
        LOADED,
        async () => {
          perSecond = (await measureThroughput(LOADED, CONCURRENCY, target.call)).perSecond;
        },
      );
      results.set(target.name, {
        p50: percentile(sequential.latencies, 50),
        p99: percentile(sequential.latencies, 99),
        perSecond,
        stubCpu,
        serviceCpu,
      });
    }
    const base = results.get(direct.name);
    const ours = results.get(service.name);
    if (base === undefined || ours === undefined) throw new Error('GraphQL overhead: missing results');
    const row = (metric: string, key: keyof Result, unit: string, digits: number): Row[] => [
      { section: SECTION, metric: `stub directly: ${metric}`, value: round(base[key], digits), unit },
      {
        section: SECTION,
        metric: `service createCompletion: ${metric}`,
        value: round(ours[key], digits),
        unit,
        baseline: round(base[key], digits),
        ratio: ours[key] / base[key],
      },
    ];
    return [
      ...row(`latency p50 (sequential, n=${SEQUENTIAL})`, 'p50', 'ms', 3),
      ...row(`latency p99 (sequential, n=${SEQUENTIAL})`, 'p99', 'ms', 3),
      ...row(`requests/s (c=${CONCURRENCY}, n=${LOADED})`, 'perSecond', 'req/s', 0),
      ...row(`stub process CPU per request (c=${CONCURRENCY})`, 'stubCpu', 'µs', 0),
      {
        section: SECTION,
        metric: `service process CPU per createCompletion (c=${CONCURRENCY})`,
        value: round(ours.serviceCpu, 0),
        unit: 'µs',
      },
      {
        section: SECTION,
        metric: 'added by the service at p50',
        value: round(ours.p50 - base.p50, 3),
        unit: 'ms',
      },
    ];
  } finally {
    await agent.close();
  }
}
