/**
 * Section 8: what routing costs. The same `createCompletion` load through the service with one
 * upstream and through the service routing over three deployments (same stub, same process
 * settings), in alternating rounds so a burst of other work on the machine hits both alike; the
 * median round of each. Target: the router adds at most 5 % of service CPU per request.
 */
import { Agent, request } from 'undici';
import { type BenchChild, childrenCpuPerCall, serviceEnv, startChild } from './children.js';
import { log, measureThroughput, percentile, round } from './stats.js';
import type { Row } from './table.js';
import { createCompletionBody, graphqlHeaders } from './workload.js';

const SECTION = '8. routing';
const WARMUP = 1_000;
const ROUNDS = 7;
const PER_ROUND = 2_000;
const CONCURRENCY = 16;

export async function runRoutingBench(stub: BenchChild): Promise<Row[]> {
  const [single, routed] = await Promise.all([
    startChild('service-routed.ts', { ...serviceEnv, UPSTREAM_ORIGIN: stub.origin, BENCH_DEPLOYMENTS: '1' }),
    startChild('service-routed.ts', { ...serviceEnv, UPSTREAM_ORIGIN: stub.origin, BENCH_DEPLOYMENTS: '3' }),
  ]);
  const agent = new Agent({ connections: CONCURRENCY, keepAliveTimeout: 30_000 });
  const call = (service: BenchChild) => async () => {
    const response = await request(`${service.origin}/graphql`, {
      method: 'POST',
      headers: graphqlHeaders,
      body: createCompletionBody,
      dispatcher: agent,
    });
    const text = await response.body.text();
    if (response.statusCode !== 200 || text.includes('"errors"')) throw new Error(`service: ${text}`);
  };
  try {
    const cpu = new Map<BenchChild, number[]>([
      [single, []],
      [routed, []],
    ]);
    for (const service of [single, routed]) await measureThroughput(WARMUP, CONCURRENCY, call(service));
    for (let round = 0; round < ROUNDS; round++) {
      log(`routing: round ${round + 1} of ${ROUNDS}`);
      const order = round % 2 === 0 ? [single, routed] : [routed, single];
      for (const service of order) {
        const [perCall = 0] = await childrenCpuPerCall([service], PER_ROUND, () =>
          measureThroughput(PER_ROUND, CONCURRENCY, call(service)),
        );
        cpu.get(service)?.push(perCall);
      }
    }
    const one = percentile(cpu.get(single) ?? [], 50);
    const three = percentile(cpu.get(routed) ?? [], 50);
    const ratio = three / one;
    return [
      {
        section: SECTION,
        metric: `service CPU per createCompletion, one upstream (c=${CONCURRENCY}, median of ${ROUNDS} rounds)`,
        value: round(one, 0),
        unit: 'µs',
      },
      {
        section: SECTION,
        metric: '… routed over three deployments (UPSTREAMS_FILE, one weighted group)',
        value: round(three, 0),
        unit: 'µs',
        baseline: round(one, 0),
        ratio,
        target: '≤ 1.05×',
        pass: ratio <= 1.05,
      },
    ];
  } finally {
    await agent.close();
    await Promise.all([single.stop(), routed.stop()]);
  }
}
