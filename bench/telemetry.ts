/**
 * Section 7: what telemetry costs. The service with protections on (as section 6 runs it), as
 * twin apps in one process. The judged pair is the issue's: metrics and traces on against both
 * off, each writing the access line as the service does by default (LOG_LEVEL=info). Beside them,
 * a twin with nothing on (no access line either: everything against nothing is reported too), and
 * a second "off" twin, whose ratio to the first shows the method's own noise (an A/A row). Traces
 * go over OTLP/HTTP protobuf to a sink in this process, access lines to a file. Twins, because
 * separate processes with identical settings differed by up to 15 % here, more than the
 * difference to measure. Two such processes: one operation in ten traced
 * (`parentbased_traceidratio` 0.1, a production setting), and every operation traced.
 *
 * Server CPU per request at c=64 (the process's user + system time, all its threads), over many
 * short blocks: each round runs every twin once, in an order that rotates from round to round.
 * Each block ends when its twin has written the log lines it buffered and the young generation
 * has been collected (else that work is paid in the next twin's block); spans are exported as
 * production exports them, a batch when 512 wait, in the block whose span fills it. A ratio is
 * the median over rounds of one twin's block / another's in the same round (rounds last well
 * under a second: another process taking the CPU slows both alike); a twin's µs, the trimmed mean
 * of its blocks. `BENCH_TELEMETRY_ROUNDS` changes the number of rounds (200: one round's ratio
 * varies by ±13 % on this machine, so the median of 100 moved by ±1.6 % from run to run).
 * `BENCH_TELEMETRY_SPLIT=1` adds a twin per part (metrics, traces; the access line is "off" against
 * "nothing") to see what each costs; `BENCH_TELEMETRY_SPLIT=leave-one-out`, a twin for each part
 * left out of "on".
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { type BenchChild, childrenCpuPerCall, serviceEnv, startChild } from './children.js';
import { log, measureThroughput, round } from './stats.js';
import type { Row } from './table.js';
import { createCompletionBody, graphqlHeaders } from './workload.js';

const SECTION = '7. telemetry';
const WARMUP = 1_000;
const ROUNDS = Number(process.env.BENCH_TELEMETRY_ROUNDS ?? 200);
const CALLS = 200;
const CONCURRENCY = 64;
const CLIENT_TOKEN = 'bench-client-token-not-a-secret';

/** What the first app ("off") runs: the access line alone, as the service logs by default. */
const OFF = 'log';

/** The twins beside "off": metrics and traces on, "off" again, and nothing at all. */
const twins = [
  { key: 'on', parts: 'metrics,traces,log' },
  { key: 'off again', parts: OFF },
  { key: 'nothing', parts: 'off' },
  ...(process.env.BENCH_TELEMETRY_SPLIT === '1'
    ? [
        { key: 'metrics', parts: 'metrics,log' },
        { key: 'traces', parts: 'traces,log' },
      ]
    : []),
  // Each part left out of "on": what it adds to the other two.
  ...(process.env.BENCH_TELEMETRY_SPLIT === 'leave-one-out'
    ? [
        { key: 'all but metrics', parts: 'traces,log' },
        { key: 'all but log', parts: 'metrics,traces' },
        { key: 'all but traces', parts: 'metrics,log' },
      ]
    : []),
];

/** Each twin's CPU µs per request, block by block, round by round. */
type Blocks = Map<string, number[]>;

function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? Number.NaN) + (sorted[middle] ?? Number.NaN)) / 2;
}

/** The mean of what is left when the lowest and highest `cut` fraction are left out. */
function trimmedMean(samples: readonly number[], cut: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const drop = Math.floor(sorted.length * cut);
  const kept = sorted.slice(drop, sorted.length - drop);
  return kept.reduce((sum, value) => sum + value, 0) / kept.length;
}

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
  /** The twins in one process: each one's CPU per request (blocks), and its ratio to "off". */
  const measure = async (name: string, ratio: string): Promise<Blocks> => {
    const child = await startChild(
      'service.ts',
      {
        ...serviceEnv,
        UPSTREAM_ORIGIN: stub.origin,
        BENCH_CLIENT_TOKEN: CLIENT_TOKEN,
        BENCH_RATE_LIMIT: '10000000',
        BENCH_SQLITE_PATH: join(dir, `${name}.sqlite`),
        BENCH_TELEMETRY: OFF,
        BENCH_TWIN_TELEMETRY: twins.map((twin) => twin.parts).join(';'),
        BENCH_TRACE_RATIO: ratio,
        BENCH_OTLP_URL: `http://127.0.0.1:${(sink.address() as AddressInfo).port}/v1/traces`,
        BENCH_ACCESS_LOG: join(dir, `${name}.log`),
      },
      // For the young-generation collection that ends each block (see settle in service.ts).
      ['--expose-gc'],
    );
    started.push(child);
    const ports = await child.rpc<number[]>('twinPorts');
    const apps = [
      { key: 'off', origin: child.origin, index: 0 },
      ...twins.map((twin, i) => ({ key: twin.key, origin: `http://127.0.0.1:${ports[i]}`, index: i + 1 })),
    ];
    for (const app of apps) await measureThroughput(WARMUP, CONCURRENCY, call(app.origin));
    const blocks = new Map(apps.map((app) => [app.key, [] as number[]]));
    for (let round = 0; round < ROUNDS; round++) {
      const rotated = apps.map((_, i) => apps[(i + round) % apps.length] as (typeof apps)[number]);
      for (const app of round % 2 === 0 ? rotated : rotated.reverse()) {
        const [perCall = 0] = await childrenCpuPerCall([child], CALLS, async () => {
          await measureThroughput(CALLS, CONCURRENCY, call(app.origin));
          await child.rpc('settle', app.index);
        });
        blocks.get(app.key)?.push(perCall);
      }
    }
    await child.stop();
    if (process.env.BENCH_TELEMETRY_BLOCKS === '1') {
      for (const [key, samples] of blocks)
        log(
          `${name} ${key}: ${trimmedMean(samples, 0.2).toFixed(0)} µs: ${samples.map(Math.round).join(' ')}`,
        );
    }
    return blocks;
  };
  try {
    log('telemetry: twins off / on / off again, one operation in ten traced');
    const sampled = await measure('sampled', '0.1');
    log('telemetry: twins off / on / off again, every operation traced');
    const all = await measure('all', '1');
    const n = `twins in one process, ${ROUNDS} rounds of ${CALLS} calls each; ratio: median over rounds`;
    const row = (blocks: Blocks, key: string, against: string, metric: string, target?: number): Row => {
      const samples = blocks.get(key) ?? [];
      const reference = blocks.get(against) ?? [];
      const ratio = median(samples.map((value, round) => value / (reference[round] ?? Number.NaN)));
      return {
        section: SECTION,
        metric: `server CPU per request at c=${CONCURRENCY}: ${metric} (${n})`,
        value: round(trimmedMean(samples, 0.2), 0),
        unit: 'µs',
        baseline: round(trimmedMean(reference, 0.2), 0),
        ratio,
        ...(target === undefined ? {} : { target: `≤ ${target}×`, pass: ratio <= target }),
      };
    };
    const split = (blocks: Blocks, what: string): Row[] =>
      [...blocks.keys()]
        .filter((key) => !['off', 'on', 'off again', 'nothing'].includes(key))
        .map((key) => row(blocks, key, 'off', `${key} (${what}) vs off`));
    return [
      row(
        sampled,
        'on',
        'off',
        'metrics and traces of 1 operation in 10 on, vs off (both write the access line, as LOG_LEVEL=info does)',
        1.05,
      ),
      row(
        sampled,
        'on',
        'nothing',
        'metrics, traces of 1 operation in 10 and the access line, vs nothing at all',
      ),
      row(sampled, 'off', 'nothing', 'the access line alone, vs nothing at all'),
      row(sampled, 'off again', 'off', "off again vs off (A/A: the method's own noise)"),
      ...split(sampled, 'traces of 1 operation in 10'),
      row(all, 'on', 'off', 'metrics and every operation traced, vs off'),
      row(all, 'off again', 'off', 'off again vs off (A/A), every-operation-traced process'),
      ...split(all, 'every operation traced'),
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
