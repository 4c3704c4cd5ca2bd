/**
 * `npm run bench`: every benchmark of the project in one run, baselines measured alongside.
 * Progress goes to stderr; the markdown table to stdout and to `bench/results.md`.
 * Exits 0 when targets are missed (the table says fail), non-zero when the bench itself breaks
 * (a crashed section still leaves its row in the table). `BENCH_ONLY=2,3` runs some sections.
 */
import { type BenchChild, serviceEnv, startChild, stopAllChildren } from './children.js';
import { runClientCpuBench } from './client-cpu.js';
import { runEntitiesBench } from './entities.js';
import { runGraphqlOverheadBench } from './graphql-overhead.js';
import { runLocalEngineBench } from './local-engine.js';
import { runOpenStreamsBench } from './open-streams.js';
import { runPeersBench } from './peers.js';
import { runRoutingBench } from './routing.js';
import { log } from './stats.js';
import { runStreamFirstEventBench } from './stream-first-event.js';
import { type Row, renderTable, writeResults } from './table.js';
import { runTelemetryBench } from './telemetry.js';

async function main(): Promise<void> {
  const started = performance.now();
  const rows: Row[] = [];
  const only = process.env.BENCH_ONLY?.split(',');
  const wanted = (section: string) => only === undefined || only.includes(section);

  log('starting the stub upstream, the raw proxy, bare yoga and the service (separate processes)');
  const stub = await startChild('stub-upstream.ts');
  const [proxy, service, bareYoga]: BenchChild[] = await Promise.all([
    startChild('raw-proxy.ts', { UPSTREAM_ORIGIN: stub.origin }),
    startChild('service.ts', { ...serviceEnv, UPSTREAM_ORIGIN: stub.origin }),
    startChild('bare-yoga.ts', { ...serviceEnv, UPSTREAM_ORIGIN: stub.origin }),
  ]);
  if (proxy === undefined || service === undefined || bareYoga === undefined)
    throw new Error('children did not start');

  /** Runs one section; if it breaks, the table says so, the others still run, and the exit code is 1. */
  const section = async (id: string, name: string, run: () => Promise<Row[]>) => {
    if (!wanted(id)) return;
    try {
      rows.push(...(await run()));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log(`section ${name} crashed: ${error instanceof Error ? error.stack : message}`);
      rows.push({
        section: name,
        metric: `crashed: ${message.slice(0, 200)}`,
        value: 0,
        unit: '',
        pass: false,
      });
      process.exitCode = 1;
    }
  };

  await section('1', '1. upstream client CPU', () => runClientCpuBench(stub.origin));
  await section('2', '2. GraphQL overhead', () => runGraphqlOverheadBench(stub, service));
  await section('3', '3. stream: time to first event', () =>
    runStreamFirstEventBench(stub.origin, proxy.origin, service.origin, bareYoga.origin),
  );
  await section('6', '6. peers', () => runPeersBench({ stub, proxy, bareYoga, service }));
  await section('7', '7. telemetry', () => runTelemetryBench(stub));
  await section('8', '8. routing', () => runRoutingBench(stub));
  await section('9', '9. entities & cache', () => runEntitiesBench(stub));
  await Promise.all([proxy.stop(), service.stop(), bareYoga.stop()]);
  await section('4', '4. open streams', () => runOpenStreamsBench(stub));
  await stub.stop();
  await section('5', '5. local engine', async () => {
    log('local engine');
    // A '-' target is informational: no pass/fail to show.
    return (await runLocalEngineBench()).map(({ target, pass, ...row }) => ({
      section: '5. local engine',
      ...row,
      ...(target === '-' ? {} : { target, pass }),
    }));
  });

  const table = renderTable(rows);
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(table);
  await writeResults(new URL('results.md', import.meta.url), table, seconds);
  log(`done in ${Math.round(seconds)} s; table written to bench/results.md`);
}

try {
  await main();
} catch (error) {
  console.error('[bench] crashed:', error);
  process.exitCode = 1;
} finally {
  await stopAllChildren();
}
// Lingering keep-alive sockets or timers must not keep a finished bench alive.
process.exit(process.exitCode ?? 0);
