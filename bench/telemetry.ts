/**
 * Section 7: what telemetry costs. The service with protections on (as section 6 runs it), as two
 * twin apps in one process: one with metrics, traces and the access log off, one with all three on
 * (Prometheus metrics; traces over OTLP/HTTP protobuf to a sink in this process; access lines to a
 * file). Twins, because separate processes with identical settings differed by up to 15 % here,
 * more than the difference to measure. Two such processes: one operation in ten traced
 * (`parentbased_traceidratio` 0.1, a production setting), and every operation traced. Server CPU
 * per request at c=64 over blocks that alternate the twins; the median block of each.
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
const BLOCKS = 8;
const CALLS = 500;
const CONCURRENCY = 64;
const CLIENT_TOKEN = 'bench-client-token-not-a-secret';

export async function runTelemetryBench(stub: BenchChild): Promise<Row[]> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-telemetry-'));
  let spansBytes = 0;
  const sink = createServer((req, res) => {
    req.on('data', (chunk: Buffer) => {
      spansBytes += chunk.length;
    });
    req.on('end', () => res.end());
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const agent = new Agent({ connections: CONCURRENCY, keepAliveTimeout: 30_000 });
  const started: BenchChild[] = [];
  const call = (origin: string) => async () => {
    const response = await request(`${origin}/graphql`, {
      method: 'POST',
      headers: { ...graphqlHeaders, authorization: `Bearer ${CLIENT_TOKEN}` },
      body: createCompletionBody,
      dispatcher: agent,
    });
    const text = await response.body.text();
    if (response.statusCode !== 200 || text.includes('"errors"')) throw new Error(`telemetry: ${text}`);
  };
  /** Off and on, twins in one process: CPU per request of each, median over alternating blocks. */
  const measure = async (name: string, ratio: string): Promise<{ off: number; on: number }> => {
    const child = await startChild('service.ts', {
      ...serviceEnv,
      UPSTREAM_ORIGIN: stub.origin,
      BENCH_CLIENT_TOKEN: CLIENT_TOKEN,
      BENCH_RATE_LIMIT: '10000000',
      BENCH_SQLITE_PATH: join(dir, `${name}.sqlite`),
      BENCH_TELEMETRY: 'off',
      BENCH_TWIN_TELEMETRY: 'metrics,traces,log',
      BENCH_TRACE_RATIO: ratio,
      BENCH_OTLP_URL: `http://127.0.0.1:${(sink.address() as AddressInfo).port}/v1/traces`,
      BENCH_ACCESS_LOG: join(dir, `${name}.log`),
    });
    started.push(child);
    const twinPort = await child.rpc<number>('twinPort');
    const origins = { off: child.origin, on: `http://127.0.0.1:${twinPort}` };
    for (const origin of Object.values(origins)) await measureThroughput(WARMUP, CONCURRENCY, call(origin));
    const cpu = { off: [] as number[], on: [] as number[] };
    for (let block = 0; block < BLOCKS; block++) {
      for (const key of block % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
        const [perCall = 0] = await childrenCpuPerCall([child], CALLS, async () => {
          await measureThroughput(CALLS, CONCURRENCY, call(origins[key]));
        });
        cpu[key].push(perCall);
      }
    }
    await child.stop();
    return { off: percentile(cpu.off, 50), on: percentile(cpu.on, 50) };
  };
  try {
    log('telemetry: twins off / on, one operation in ten traced');
    const sampled = await measure('sampled', '0.1');
    log('telemetry: twins off / on, every operation traced');
    const all = await measure('all', '1');
    const row = (figures: { off: number; on: number }, what: string, judged: boolean): Row => ({
      section: SECTION,
      metric: `server CPU per request at c=${CONCURRENCY}: metrics, access log and ${what}, vs all off (twins in one process, n=${(BLOCKS * CALLS) / 2} each)`,
      value: round(figures.on, 0),
      unit: 'µs',
      baseline: round(figures.off, 0),
      ratio: figures.on / figures.off,
      ...(judged ? { target: '≤ 1.05×', pass: figures.on / figures.off <= 1.05 } : {}),
    });
    return [
      row(sampled, 'traces of 1 operation in 10', true),
      row(all, 'every operation traced', false),
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
