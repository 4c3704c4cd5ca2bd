/**
 * Section 7: what telemetry costs. The service with protections on (as section 6 runs it) three
 * times, side by side in front of the same stub: with metrics, tracing and the access log off; with
 * all three on and one operation in ten traced (`parentbased_traceidratio` 0.1, a production
 * setting); and with every operation traced. Traces go over OTLP/HTTP (protobuf) to a sink in this
 * process, access lines to a file. Server CPU per request at c=64, median of rounds in rotating
 * order.
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
    const telemetryOn = (name: string, ratio: string) => ({
      ...protections(name),
      BENCH_TELEMETRY: 'metrics,traces,log',
      BENCH_TRACE_RATIO: ratio,
      BENCH_OTLP_URL: `http://127.0.0.1:${(sink.address() as AddressInfo).port}/v1/traces`,
      BENCH_ACCESS_LOG: join(dir, `${name}.log`),
    });
    const children = await Promise.all([
      startChild('service.ts', { ...protections('off'), BENCH_TELEMETRY: 'off' }),
      startChild('service.ts', telemetryOn('sampled', '0.1')),
      startChild('service.ts', telemetryOn('all', '1')),
    ]);
    const [off, sampled, all] = children;
    if (off === undefined || sampled === undefined || all === undefined)
      throw new Error('children did not start');
    started.push(off, sampled, all);
    const targets = { off, sampled, all } as const;
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
    for (const child of children) await measureThroughput(WARMUP, CONCURRENCY, call(child));
    const keys = ['off', 'sampled', 'all'] as const;
    const cpu = { off: [] as number[], sampled: [] as number[], all: [] as number[] };
    for (let i = 0; i < ROUNDS; i++) {
      log(`telemetry: round ${i + 1} of ${ROUNDS}`);
      for (let j = 0; j < keys.length; j++) {
        const key = keys[(i + j) % keys.length] as (typeof keys)[number];
        const child = targets[key];
        const [perCall = 0] = await childrenCpuPerCall([child], CALLS, async () => {
          await measureThroughput(CALLS, CONCURRENCY, call(child));
        });
        cpu[key].push(perCall);
      }
    }
    const without = round(percentile(cpu.off, 50), 0);
    const row = (key: 'sampled' | 'all', what: string, judged: boolean): Row => {
      const value = round(percentile(cpu[key], 50), 0);
      return {
        section: SECTION,
        metric: `server CPU per request at c=${CONCURRENCY}: metrics, access log and ${what}, vs all off (n=${ROUNDS * CALLS})`,
        value,
        unit: 'µs',
        baseline: without,
        ratio: value / without,
        ...(judged ? { target: '≤ 1.05×', pass: value / without <= 1.05 } : {}),
      };
    };
    return [
      row('sampled', 'traces of 1 operation in 10', true),
      row('all', 'every operation traced', false),
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
