/**
 * Soak test: `SOAK_CLIENTS` honest client loops (two API clients, each with its own key) for
 * `SOAK_SECONDS` against the service (its own process) in front of a stub upstream (its own
 * process) that answers `SOAK_FAULT_RATE` of calls with a fault, and beside them
 * `SOAK_HOSTILE_CLIENTS` hostile loops (a third key) that try to get past the limits, send large
 * frames and costly prompts, and read the honest clients' stored completions. Every honest request
 * must end in a success or a coded GraphQL error within the service's deadline, no paid completion
 * may be lost, the service must not see an unhandled rejection or exception, its event loop must
 * not stall past 100 ms, its RSS must not grow more than 50 MB after the first 1,000 requests; no
 * hostile operation may cause an upstream call or read a record. Prints the table, writes
 * `soak/last-run.md`, exits 1 when a target fails.
 *
 *   npx tsx soak/index.ts    (SOAK_SECONDS=60 SOAK_CLIENTS=50 SOAK_FAULT_RATE=0.2 SOAK_HOSTILE_CLIENTS=5)
 */
import { rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Agent } from 'undici';
import { serviceEnv, startChild, stopAllChildren } from '../bench/children.js';
import { type HonestOp, type Outcome, runOne } from './client.js';
import { client, soak } from './config.js';
import { runHostile } from './hostile.js';
import { HostileTally } from './hostile-report.js';
import { bearer, clientKeysEnv, honestClients, hostileClient, StoredIds } from './keys.js';
import type { LoopDelayWindow } from './loop-delay.js';
import { sampleTimeline, settledMemory } from './memory.js';
import { renderReport, type SoakResult, writeReport } from './report.js';
import { endingsByFault, Tally } from './tally.js';

const log = (message: string) => process.stderr.write(`[soak] ${message}\n`);
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

const stored = new StoredIds();

/** What honest loop `loop` sends next, as the honest client it belongs to. */
function pickOp(loop: number): { op: HonestOp; name: string } {
  const who = honestClients[loop % honestClients.length] ?? honestClients[0];
  if (who === undefined) throw new Error('no honest client');
  const authorization = bearer(who);
  const roll = Math.random();
  const pick = (op: Omit<HonestOp, 'authorization'>) => ({ op: { ...op, authorization }, name: who.name });
  if (roll < client.streamShare) return pick({ kind: 'stream' });
  if (roll < client.streamShare + client.modelsShare) return pick({ kind: 'models' });
  const readId = stored.ownOf(who.name);
  if (roll < client.streamShare + client.modelsShare + client.readShare && readId !== undefined) {
    return pick({ kind: 'read', readId });
  }
  return pick({ kind: 'mutation', store: Math.random() < client.storeShare });
}

/** Runs `loops` client loops until `keepGoing` says stop, each outcome handed to `record`. */
async function runLoops(
  loops: number,
  keepGoing: () => boolean,
  send: (loop: number) => Promise<Outcome>,
  record: (outcome: Outcome) => void,
): Promise<void> {
  const loop = async (_: unknown, index: number) => {
    while (keepGoing()) record(await send(index));
  };
  await Promise.all(Array.from({ length: loops }, loop));
}

async function run(): Promise<boolean> {
  const startedAt = new Date();
  const loadAtStart = loadavg()[0] ?? 0;
  const logFile = join(tmpdir(), `soak-service-${process.pid}.log`);
  const sqlitePath = join(tmpdir(), `soak-${process.pid}.sqlite`);
  log(
    `${soak.clients} honest and ${soak.hostileClients} hostile clients for ${soak.seconds} s, fault rate ${soak.faultRate}`,
  );
  const stub = await startChild(new URL('./stub-upstream.ts', import.meta.url));
  const service = await startChild(
    new URL('./service.ts', import.meta.url),
    {
      ...serviceEnv,
      UPSTREAM_ORIGIN: stub.origin,
      SOAK_LOG_FILE: logFile,
      SOAK_SQLITE_PATH: sqlitePath,
      CLIENT_KEYS: clientKeysEnv,
    },
    ['--expose-gc'],
  );
  const endpoint = new URL('/graphql', service.origin);
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: soak.clients + 10 });
  const hostileAgent = new Agent({ keepAliveTimeout: 30_000, connections: soak.hostileClients + 2 });
  let nextTag = 1;
  const send = async (loop: number) => {
    const { op, name } = pickOp(loop);
    const outcome = await runOne(op, nextTag++, endpoint, agent);
    if (outcome.storedId !== undefined) stored.add(name, outcome.storedId);
    return outcome;
  };

  // Warm-up, not counted: a cold process compiles its code paths on the first requests.
  const warmup = new Tally();
  await runLoops(
    client.warmupLoops,
    () => warmup.total < client.warmupRequests,
    send,
    (o) => warmup.add(o),
  );
  log(`warm-up: ${warmup.total} requests (${warmup.lost} lost, ${warmup.late} late), not counted`);

  const tally = new Tally();
  const hostile = new HostileTally();
  let baseline: SoakResult['rss']['baseline'];
  let baselineTaken: Promise<void> | undefined;
  await service.rpc('loopDelay');
  await service.rpc('loopDelayWindow');
  const clientLoop = monitorEventLoopDelay({ resolution: 10 });
  clientLoop.enable();
  const timeline = sampleTimeline(service, () => tally.total);
  const progress = setInterval(
    () => log(`${tally.total} requests: ${tally.ok} ok, ${tally.errors} coded errors, ${tally.lost} lost`),
    10_000,
  );
  const started = performance.now();
  const endAt = started + soak.seconds * 1000;
  const keepGoing = () => performance.now() < endAt;
  const hostileTarget = {
    origin: service.origin,
    authorization: bearer(hostileClient),
    dispatcher: hostileAgent,
    stored,
  };
  await Promise.all([
    runLoops(soak.clients, keepGoing, send, (outcome) => {
      tally.add(outcome);
      if (baselineTaken !== undefined || tally.total < client.rssBaselineAfter) return;
      const afterRequests = tally.total;
      baselineTaken = settledMemory(service).then((memory) => {
        baseline = { ...memory, afterRequests };
        log(`RSS after ${afterRequests} requests: ${mb(memory.rss)}`);
      });
    }),
    runHostile(hostileTarget, keepGoing, (outcome) => hostile.add(outcome)),
  ]);
  const elapsedSeconds = (performance.now() - started) / 1000;
  const loopWindow = await service.rpc<LoopDelayWindow>('loopDelayWindow');
  clearInterval(progress);
  timeline.stop();
  clientLoop.disable();
  await baselineTaken;
  log(`done: ${tally.total} requests in ${elapsedSeconds.toFixed(1)} s; settling`);

  const end = await settledMemory(service);
  const attempts = await stub.rpc<[number, string[]][]>('attempts');
  const { unknownMarkers } = hostile.attribute(await stub.rpc<[number, number][]>('hostile'));
  const answersByTag = new Map(attempts);
  const arrivals = await stub.rpc<number[][]>(
    'arrivals',
    tally.examples.map((example) => example.tag),
  );
  const serviceArrivals = await service.rpc<(number | null)[]>(
    'arrivals',
    tally.examples.map((example) => example.tag),
  );
  tally.examples.forEach((example, index) => {
    const atService = serviceArrivals[index];
    example.serviceAtMs = atService == null ? undefined : atService - example.sentAt;
    const times = arrivals[index] ?? [];
    example.upstreamAnswers = (answersByTag.get(example.tag) ?? []).map((answer, attempt) => {
      const at = times[attempt];
      return { answer, atMs: at === undefined ? undefined : at - example.sentAt };
    });
  });
  const result: SoakResult = {
    startedAt,
    elapsedSeconds,
    warmup: { requests: warmup.total, lost: warmup.lost, late: warmup.late },
    clientLoopDelayMs: clientLoop.max / 1e6,
    tally,
    rss: { baseline, end, peak: Math.max(timeline.peak(), end.rss), gc: end.gc, timeline: timeline.points },
    crashes: await service.rpc('crashes'),
    log: { ...(await service.rpc<Omit<SoakResult['log'], 'file'>>('log')), file: logFile },
    stub: await stub.rpc('stats'),
    faultGroups: endingsByFault(tally, attempts),
    loopWindow,
    hostile,
    unknownMarkers,
    storedIds: stored.size,
    load: { start: loadAtStart, end: loadavg()[0] ?? 0 },
  };
  await Promise.all([agent.close(), hostileAgent.close()]);
  const { markdown, passed } = renderReport(result);
  process.stdout.write(markdown);
  await writeReport(markdown);
  log(`written to soak/last-run.md: ${passed ? 'all targets met' : 'TARGETS FAILED'}`);
  return passed;
}

const interrupted = () => {
  void stopAllChildren().then(() => process.exit(130));
};
process.once('SIGINT', interrupted);
process.once('SIGTERM', interrupted);

run()
  .then(
    (passed) => {
      process.exitCode = passed ? 0 : 1;
    },
    (error: unknown) => {
      console.error('soak failed to run:', error);
      process.exitCode = 1;
    },
  )
  .finally(async () => {
    await stopAllChildren();
    const base = join(tmpdir(), `soak-${process.pid}.sqlite`);
    await Promise.all(['', '-wal', '-shm', '-journal'].map((end) => rm(`${base}${end}`, { force: true })));
  });
