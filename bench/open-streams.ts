/**
 * Section 4: many concurrent open subscriptions. A fresh service process in front of the stub's
 * never-ending streams (one event a second); N SSE subscriptions opened at once; the service's RSS
 * before and while they are open; then every client goes away and the stub must see every
 * upstream stream closed. Run once as shipped (the provider's default upstream pool) and once with
 * a pool big enough for N upstream connections.
 */
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'undici';
import { type BenchChild, serviceEnv, startChild } from './children.js';
import { log, round, sleep, waitFor } from './stats.js';
import type { Row } from './table.js';
import { holdModelId, sseHeaders, streamBody } from './workload.js';

const SECTION = '4. open streams';
const STREAMS = 1_000;
const RSS_TARGET_BYTES = 300e6;
/**
 * How long to wait for every stream's first event. The default pool's wait is longer than the
 * provider's first-byte timeout (10 s), so a stuck stream would have errored by then; the big pool
 * gets more, since opening 1,000 is CPU-bound on a small machine (it returns as soon as all are in).
 */
const OPEN_TIMEOUT_MS = { defaultPool: 12_000, bigPool: 25_000 };
const CLOSE_TIMEOUT_MS = 10_000;

interface StubStats {
  heldOpened: number;
  heldClosed: number;
  heldOpen: number;
}

interface Memory {
  rss: number;
  heapUsed: number;
}

/** Heap in use after a full GC: what the service really keeps. */
async function heapAfterGc(service: BenchChild): Promise<number> {
  await service.rpc('gc');
  return (await service.rpc<Memory>('memory')).heapUsed;
}

/** Linux's count of connections dropped because a listen queue was full (NaN elsewhere). */
async function listenOverflows(): Promise<number> {
  try {
    const lines = (await readFile('/proc/net/netstat', 'utf8')).split('\n');
    const header = lines.findIndex((line) => line.startsWith('TcpExt:'));
    const names = lines[header]?.split(/\s+/) ?? [];
    const values = lines[header + 1]?.split(/\s+/) ?? [];
    return Number(values[names.indexOf('ListenOverflows')] ?? Number.NaN);
  } catch {
    return Number.NaN;
  }
}

interface OpenOutcome {
  streaming: number;
  errored: number;
  /** The request failed, or the response ended before any event. */
  failed: number;
  /** The first error event's data, to show why. */
  firstError: string;
  lastFirstEventMs: number;
  close(): Promise<void>;
}

/** Opens the subscriptions and counts how each one starts: a data event, an error event, a failure. */
async function openStreams(serviceOrigin: string, timeoutMs: number): Promise<OpenOutcome> {
  const agent = new Agent({ connections: STREAMS + 50, keepAliveTimeout: 30_000 });
  const controllers: AbortController[] = [];
  const outcome = { streaming: 0, errored: 0, failed: 0, firstError: '', lastFirstEventMs: Number.NaN };
  const started = performance.now();
  const done = Array.from({ length: STREAMS }, async () => {
    const controller = new AbortController();
    controllers.push(controller);
    try {
      const response = await request(`${serviceOrigin}/graphql`, {
        method: 'POST',
        headers: sseHeaders,
        body: streamBody(holdModelId),
        dispatcher: agent,
        signal: controller.signal,
      });
      let text = '';
      let counted = false;
      for await (const chunk of response.body) {
        if (counted) continue;
        text += String(chunk);
        const at = text.indexOf('event: next');
        if (at === -1 || text.indexOf('\n\n', at) === -1) continue;
        counted = true;
        if (text.includes('"errors"')) {
          outcome.errored++;
          outcome.firstError ||= text.slice(at, at + 300);
        } else {
          outcome.streaming++;
          outcome.lastFirstEventMs = performance.now() - started;
        }
      }
      if (!counted) {
        outcome.failed++;
        outcome.firstError ||= `ended without an event: ${text.slice(0, 200)}`;
      }
    } catch (error) {
      if (controller.signal.aborted) return;
      outcome.failed++;
      outcome.firstError ||= String(error);
    }
  });
  await waitFor(() => outcome.streaming + outcome.errored + outcome.failed >= STREAMS, timeoutMs);
  return {
    ...outcome,
    async close() {
      for (const controller of controllers) controller.abort();
      await Promise.all(done);
      await agent.close();
    },
  };
}

async function maxRss(service: BenchChild, samples: number): Promise<number> {
  let max = 0;
  for (let i = 0; i < samples; i++) {
    max = Math.max(max, (await service.rpc<Memory>('memory')).rss);
    await sleep(500);
  }
  return max;
}

async function variant(stub: BenchChild, label: string, connections: number | undefined): Promise<Row[]> {
  const openTimeoutMs = connections === undefined ? OPEN_TIMEOUT_MS.defaultPool : OPEN_TIMEOUT_MS.bigPool;
  log(`open streams: ${label}: starting a fresh service`);
  const service = await startChild(
    'service.ts',
    {
      ...serviceEnv,
      UPSTREAM_ORIGIN: stub.origin,
      ...(connections === undefined ? {} : { UPSTREAM_CONNECTIONS: String(connections) }),
    },
    ['--expose-gc'],
  );
  try {
    // Warm the service up with a few short streams, so "before" is a service that has served.
    const warm = new Agent({ connections: 4 });
    for (let i = 0; i < 20; i++) {
      const response = await request(`${service.origin}/graphql`, {
        method: 'POST',
        headers: sseHeaders,
        body: streamBody(),
        dispatcher: warm,
      });
      await response.body.text();
    }
    await warm.close();
    const heapBefore = await heapAfterGc(service);
    const rssBefore = await maxRss(service, 2);
    await stub.rpc('reset');
    const overflowsBefore = await listenOverflows();

    log(`open streams: ${label}: opening ${STREAMS} subscriptions`);
    const cpuBefore = await service.rpc<NodeJS.CpuUsage>('cpu');
    const open = await openStreams(service.origin, openTimeoutMs);
    const cpuOpen = await service.rpc<NodeJS.CpuUsage>('cpu');
    const openCpuMicros = cpuOpen.user - cpuBefore.user + cpuOpen.system - cpuBefore.system;
    const overflows = (await listenOverflows()) - overflowsBefore;
    const steadyStart = performance.now();
    const rssOpen = await maxRss(service, 4);
    const cpuSteady = await service.rpc<NodeJS.CpuUsage>('cpu');
    const steadyCpuShare =
      (cpuSteady.user - cpuOpen.user + cpuSteady.system - cpuOpen.system) /
      1000 /
      (performance.now() - steadyStart);
    const upstreamOpen = (await stub.rpc<StubStats>('stats')).heldOpen;
    log(`open streams: ${label}: ${open.streaming} streaming, closing them`);
    if (open.firstError !== '') log(`open streams: ${label}: first error: ${open.firstError}`);
    await open.close();
    let stats = await stub.rpc<StubStats>('stats');
    await waitFor(async () => {
      stats = await stub.rpc<StubStats>('stats');
      return stats.heldOpen === 0;
    }, CLOSE_TIMEOUT_MS);
    const rssAfter = await maxRss(service, 2);
    const heapAfter = await heapAfterGc(service);
    const serviceConnections = await service.rpc<number>('connections');

    const mb = (bytes: number) => round(bytes / 1e6, 1);
    const row = (metric: string, value: number, unit: string, extra: Partial<Row> = {}): Row => ({
      section: SECTION,
      metric: `${label}: ${metric}`,
      value,
      unit,
      ...extra,
    });
    return [
      row('subscriptions streaming (first event without errors)', open.streaming, '', {
        target: `= ${STREAMS}`,
        pass: open.streaming === STREAMS,
      }),
      row('subscriptions answered with an error event / failed', open.errored + open.failed, ''),
      row(
        `subscriptions with no event and no error after ${openTimeoutMs / 1000} s`,
        STREAMS - open.streaming - open.errored - open.failed,
        '',
      ),
      row('time until the last first event', round(open.lastFirstEventMs, 0), 'ms'),
      row('service CPU while opening, per subscription', round(openCpuMicros / STREAMS, 0), 'µs'),
      row(
        `service CPU with the streams open (${open.streaming} events/s)`,
        round(steadyCpuShare * 100, 0),
        '% of a core',
      ),
      row('kernel listen-queue overflows while opening (all ports)', overflows, ''),
      row('upstream streams open at the stub', upstreamOpen, '', {
        target: `= ${STREAMS}`,
        pass: upstreamOpen === STREAMS,
      }),
      row('service RSS before', mb(rssBefore), 'MB'),
      row(`service RSS with ${STREAMS} subscriptions open`, mb(rssOpen), 'MB', {
        baseline: mb(rssBefore),
        ratio: rssOpen / rssBefore,
        target: `≤ ${RSS_TARGET_BYTES / 1e6} MB`,
        pass: rssOpen <= RSS_TARGET_BYTES,
      }),
      row('RSS per open subscription', round((rssOpen - rssBefore) / STREAMS / 1024, 1), 'KiB'),
      row('upstream streams closed after the clients left', stats.heldClosed, '', {
        baseline: stats.heldOpened,
        ratio: stats.heldOpened === 0 ? 0 : stats.heldClosed / stats.heldOpened,
        target: '= opened',
        pass: stats.heldOpened > 0 && stats.heldClosed === stats.heldOpened,
      }),
      row('service RSS after closing', mb(rssAfter), 'MB'),
      row('service heap used after closing, after GC', mb(heapAfter), 'MB', {
        baseline: mb(heapBefore),
        ratio: heapAfter / heapBefore,
      }),
      row('service connections left open after closing', serviceConnections, ''),
    ];
  } finally {
    await service.stop();
  }
}

export async function runOpenStreamsBench(stub: BenchChild): Promise<Row[]> {
  return [
    ...(await variant(stub, 'default upstream pool', undefined)),
    ...(await variant(stub, `upstream pool of ${STREAMS + 24}`, STREAMS + 24)),
  ];
}
