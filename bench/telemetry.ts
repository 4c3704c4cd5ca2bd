/**
 * Section 7: what telemetry costs. The service with protections on (as section 6 runs it) twice,
 * side by side in front of the same stub: with metrics, tracing and the access log off, and with
 * all three on (Prometheus metrics; every operation traced, always-on sampler, exported over
 * OTLP/HTTP to a sink in this process; one access line per operation written to a file). Server CPU
 * per request at c=64, median of rounds that alternate the two.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { type BenchChild, childrenCpuPerCall, serviceEnv, startChild } from './children.js';
import { log, measureThroughput, percentile, round } from './stats.js';
import type { Row } from './table.js';
import { createCompletionBody, graphqlHeaders } from './workload.js';

const SECTION = '7. telemetry';
const WARMUP = 500;
const ROUNDS = 5;
const CALLS = 800;
const CONCURRENCY = 64;
const CLIENT_TOKEN = 'bench-client-token-not-a-secret';

export async function runTelemetryBench(stub: BenchChild): Promise<Row[]> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-telemetry-'));
  let spansBytes = 0;
  const sink = createServer((req, res) => {
    req.on('data', (chunk: Buffer) => {
      spansBytes += chunk.length;
    });
    req.on('end', () => res.end('{}'));
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const agent = new Agent({ connections: CONCURRENCY, keepAliveTimeout: 30_000 });
  const started: BenchChild[] = [];
  try {
    const protections = (name: string) => ({
      ...serviceEnv,
      UPSTREAM_ORIGIN: stub.origin,
      BENCH_CLIENT_TOKEN: CLIENT_TOKEN,
      BENCH_RATE_LIMIT: '10000000',
      BENCH_SQLITE_PATH: join(dir, `${name}.sqlite`),
    });
    log('telemetry: starting the service with telemetry off and on');
    const [off, on] = await Promise.all([
      startChild('service.ts', { ...protections('off'), BENCH_TELEMETRY: process.env.BENCH_TELEMETRY_OFF ?? 'off' }),
      startChild('service.ts', {
        ...protections('on'),
        BENCH_TELEMETRY: process.env.BENCH_TELEMETRY_ON ?? 'metrics,traces,log',
        BENCH_OTLP_URL: `http://127.0.0.1:${(sink.address() as AddressInfo).port}/v1/traces`,
        BENCH_ACCESS_LOG: join(dir, 'access.log'),
      }),
    ]);
    if (off === undefined || on === undefined) throw new Error('children did not start');
    started.push(off, on);
    const call = (child: BenchChild) => async () => {
      const response = await request(`${child.origin}/graphql`, {
        method: 'POST',
        headers: { ...graphqlHeaders, authorization: `Bearer ${CLIENT_TOKEN}` },
        body: createCompletionBody,
        dispatcher: agent,
      });
      const text = await response.body.text();
      if (response.statusCode !== 200 || text.includes('"errors"')) throw new Error(`telemetry: ${text}`);
    };
    for (const child of [off, on]) await measureThroughput(WARMUP, CONCURRENCY, call(child));
    const cpu = { off: [] as number[], on: [] as number[] };
    for (let i = 0; i < ROUNDS; i++) {
      log(`telemetry: round ${i + 1} of ${ROUNDS}`);
      const order = i % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const);
      for (const key of order) {
        const child = key === 'off' ? off : on;
        const [perCall = 0] = await childrenCpuPerCall([child], CALLS, async () => {
          await measureThroughput(CALLS, CONCURRENCY, call(child));
        });
        cpu[key].push(perCall);
      }
    }
    const without = round(percentile(cpu.off, 50), 0);
    const withAll = round(percentile(cpu.on, 50), 0);
    return [
      {
        section: SECTION,
        metric: `server CPU per request at c=${CONCURRENCY}: metrics, traces and access log on vs off (n=${ROUNDS * CALLS})`,
        value: withAll,
        unit: 'µs',
        baseline: without,
        ratio: withAll / without,
        target: '≤ 1.05×',
        pass: withAll / without <= 1.05,
      },
      {
        section: SECTION,
        metric: 'OTLP bytes received by the sink (evidence that traces were exported)',
        value: spansBytes,
        unit: 'B',
      },
    ];
  } finally {
    await agent.close();
    await Promise.all(started.map((child) => child.stop()));
    await new Promise((resolve) => sink.close(resolve));
    await rm(dir, { recursive: true, force: true });
  }
}
