/** The soak's verdict: the targets table, the figures behind it, and `soak/last-run.md`. */
import { writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { client, deadlines, loopDelayLimitMs, rateLimit, serviceLimits, soak } from './config.js';
import type { HostileTally } from './hostile-report.js';
import type { LoopDelayWindow } from './loop-delay.js';
import type { Memory, TimelinePoint } from './memory.js';
import { type endingsByFault, kinds, lostPaid, percentile, refusedByLimits, type Tally } from './tally.js';

export interface SoakResult {
  startedAt: Date;
  elapsedSeconds: number;
  tally: Tally;
  warmup: { requests: number; lost: number; late: number };
  /** The soak client's own longest event-loop delay while the clock ran: its latencies include it. */
  clientLoopDelayMs: number;
  rss: {
    baseline: (Memory & { afterRequests: number }) | undefined;
    end: Memory;
    peak: number;
    gc: boolean;
    timeline: TimelinePoint[];
  };
  crashes: { unhandledRejections: number; uncaughtExceptions: number; samples: string[] };
  log: { lines: Record<string, number>; samples: [string, number][]; file: string };
  stub: {
    requests: number;
    byKind: Record<string, number>;
    answers: Record<string, number>;
    openAnswers: number;
    openSockets: number;
  };
  faultGroups: ReturnType<typeof endingsByFault>;
  /** The service's event loop over the measured run, the soak's forced GCs left out. */
  loopWindow: LoopDelayWindow;
  hostile: HostileTally;
  /** Upstream calls with a hostile marker no hostile move sent (counted as leaks). */
  unknownMarkers: number;
  /** Completion ids the honest clients stored (the newest kept for the reads). */
  storedIds: number;
  /** The machine's 1-minute load average: the cores are shared, and delays follow the load. */
  load: { start: number; end: number };
}

const MB = 1024 * 1024;
const mb = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;
const int = (value: number) => value.toLocaleString('en-US');
const ms = (value: number) => `${value.toFixed(0)} ms`;
const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');
const row = (cells: string[]) => `| ${cells.map(cell).join(' | ')} |`;

function table(header: string[], rows: string[][]): string[] {
  return [row(header), row(header.map(() => '---')), ...rows.map(row)];
}

export function renderReport(result: SoakResult): { markdown: string; passed: boolean } {
  const { tally, rss, crashes } = result;
  const growth = rss.baseline === undefined ? undefined : rss.end.rss - rss.baseline.rss;
  const honestRefused = refusedByLimits(tally);
  const paidLost = lostPaid(result.faultGroups);
  const loop = result.loopWindow;
  const targets: [string, string, string, boolean][] = [
    ['lost responses', int(tally.lost), '0', tally.lost === 0],
    [
      'lost paid completions (upstream answered, client got neither it nor a code)',
      int(paidLost),
      '0',
      paidLost === 0,
    ],
    ['honest requests refused by the service’s limits', int(honestRefused), '0', honestRefused === 0],
    [
      'unhandled rejections (service)',
      int(crashes.unhandledRejections),
      '0',
      crashes.unhandledRejections === 0,
    ],
    ['uncaught exceptions (service)', int(crashes.uncaughtExceptions), '0', crashes.uncaughtExceptions === 0],
    ['errors without extensions.code', int(tally.uncoded), '0', tally.uncoded === 0],
    ['errors later than the deadline', int(tally.late), '0', tally.late === 0],
    [
      `RSS growth (end − after first ${int(client.rssBaselineAfter)})`,
      growth === undefined ? 'not measured' : mb(growth),
      `≤ ${mb(client.rssGrowthLimitBytes)}`,
      growth !== undefined && growth <= client.rssGrowthLimitBytes,
    ],
    [
      'longest event-loop delay, service (the soak’s forced GCs left out)',
      ms(loop.maxMs),
      `≤ ${loopDelayLimitMs} ms`,
      loop.maxMs <= loopDelayLimitMs,
    ],
    ...result.hostile.targets(result.unknownMarkers),
  ];
  const passed = targets.every(([, , , pass]) => pass);
  const figures: [string, string][] = [
    [
      'warm-up before the clock (not counted)',
      `${int(result.warmup.requests)} requests, ${int(result.warmup.lost)} lost, ${int(result.warmup.late)} late`,
    ],
    ['requests', int(tally.total)],
    [`  ${kinds.join(' / ')}`, kinds.map((kind) => int(tally.requests[kind])).join(' / ')],
    ['completion ids stored by the honest clients', int(result.storedIds)],
    ['successes', int(tally.ok)],
    ['coded errors', int(tally.errors)],
    ['requests/s', (tally.total / result.elapsedSeconds).toFixed(1)],
    ['latency p50 / p99', `${ms(percentile(tally.latencies, 50))} / ${ms(percentile(tally.latencies, 99))}`],
    [`slowest error: ${kinds.join(' / ')}`, kinds.map((kind) => ms(tally.slowestError[kind])).join(' / ')],
    [
      `RSS after first ${int(client.rssBaselineAfter)} requests`,
      rss.baseline === undefined ? '–' : memory(rss.baseline),
    ],
    ['RSS at end', memory(rss.end)],
    [
      'heap used after GC: growth (a JS leak shows here)',
      rss.baseline === undefined ? '–' : mb(rss.end.heapUsed - rss.baseline.heapUsed),
    ],
    ['RSS peak (sampled every 2 s)', mb(rss.peak)],
    [
      'longest event-loop delay: service / soak client',
      `${ms(Math.max(0, ...rss.timeline.map((p) => p.loopDelayMs)))} / ${ms(result.clientLoopDelayMs)}`,
    ],
    [
      'service event loop over the run: p50 / p99 / p99.9 / max (forced GCs left out)',
      [loop.p50Ms, loop.p99Ms, loop.p999Ms, loop.maxMs].map(ms).join(' / '),
    ],
    [
      'service GC pauses: count, over 50 ms, longest; the soak’s forced GCs',
      `${int(loop.gc.count)}, ${int(loop.gc.over50Ms)}, ${ms(loop.gc.longestMs)}; ${int(loop.forcedGc.count)}, longest ${ms(loop.forcedGc.longestMs)}`,
    ],
    ['upstream requests (stub)', `${int(result.stub.requests)} (${JSON.stringify(result.stub.byKind)})`],
    [
      'upstream answers still open at end / sockets (idle keep-alive included)',
      `${int(result.stub.openAnswers)} / ${int(result.stub.openSockets)}`,
    ],
    [
      'service log lines (warn and above)',
      Object.entries(result.log.lines)
        .map(([level, count]) => `${level} ${int(count)}`)
        .join(', ') || '0',
    ],
  ];

  const lines = [
    '# Soak test: last run',
    '',
    `- date: ${result.startedAt.toISOString()}, node ${process.version}, ${cpus().length} CPUs, load average ${result.load.start.toFixed(1)} at start and ${result.load.end.toFixed(1)} at end`,
    `- command: \`SOAK_SECONDS=${soak.seconds} SOAK_CLIENTS=${soak.clients} SOAK_FAULT_RATE=${soak.faultRate} SOAK_HOSTILE_CLIENTS=${soak.hostileClients} npx tsx soak/index.ts\``,
    `- ran ${result.elapsedSeconds.toFixed(1)} s with ${soak.clients} honest client loops (two API clients, alternating) and ${soak.hostileClients} hostile loops (a third key, ${soak.hostilePauseMs} ms between attacks); ${soak.faultRate * 100} % of upstream answers are faults`,
    `- service: production mode, upstream deadline ${serviceLimits.upstreamTimeoutMs} ms (retries included, max ${serviceLimits.maxRetries}),` +
      ` streams first byte ${serviceLimits.stream.firstByteMs} ms / idle ${serviceLimits.stream.idleMs} ms / total ${serviceLimits.stream.totalMs} ms,` +
      ` maxResponseBytes ${serviceLimits.maxResponseBytes / 1024} KiB, three client keys (CLIENT_KEYS), SQLite storage,` +
      ` per-client limits ${int(rateLimit.requestsPerMinute)} requests and ${int(rateLimit.tokensPerMinute)} tokens a minute, default operation limits,` +
      ' circuit breaker never opens (minimumCalls = MAX_SAFE_INTEGER) so every fault reaches a request',
    `- deadline checked on each error: mutation/models ≤ ${deadlines.mutationMs} ms; stream silence before the error ≤ ${deadlines.streamSilenceMs} ms and whole stream ≤ ${deadlines.streamTotalMs} ms (service deadline + ${soak.deadlineSlackMs} ms slack)`,
    `- RSS read after a forced GC${rss.gc ? '' : ' (**unavailable**: no --expose-gc)'} and a ${client.settleMs} ms settle; service log: ${result.log.file}`,
    '',
    '## Targets',
    '',
    ...table(
      ['target', 'value', 'goal', 'result'],
      targets.map(([name, value, goal, pass]) => [name, value, goal, pass ? 'pass' : '**FAIL**']),
    ),
    '',
    '## Figures',
    '',
    ...table(['figure', 'value'], figures),
    '',
    ...result.hostile.section(table),
    '## Service memory and event loop over time',
    '',
    'Memory read without a forced GC; loop delay: the longest in the 10 s before.',
    '',
    ...table(
      ['at', 'requests', 'RSS', 'heap used', 'external', 'array buffers', 'service loop delay'],
      everyTenSeconds(rss.timeline).map((p) => [
        `${p.at.toFixed(0)} s`,
        int(p.requests),
        mb(p.rss),
        mb(p.heapUsed),
        mb(p.external),
        mb(p.arrayBuffers),
        ms(p.loopDelayMs),
      ]),
    ),
    '',
    '## Error codes',
    '',
    ...table(
      ['code', 'total', ...kinds],
      [...tally.codes.entries()]
        .sort((a, b) => sum(b[1]) - sum(a[1]))
        .map(([code, counts]) => [code, int(sum(counts)), ...kinds.map((kind) => int(counts[kind]))]),
    ),
    '',
    '## Upstream answers and how the requests ended',
    '',
    'Grouped by the stub’s answer to the last upstream attempt of each completion request (model-list',
    'fetches are shared and cached by the service, so they are not traced per request).',
    '',
    ...table(
      ['upstream answer (last attempt)', 'answers given', 'requests', 'retried', 'how they ended'],
      [...new Set([...Object.keys(result.stub.answers), ...result.faultGroups.keys()])].sort().map((name) => {
        const group = result.faultGroups.get(name);
        const endings = [...(group?.endings.entries() ?? [])]
          .sort((a, b) => b[1] - a[1])
          .map(([ending, count]) => `${ending} ${int(count)}`)
          .join(', ');
        return [
          name,
          int(result.stub.answers[name] ?? 0),
          int(group?.requests ?? 0),
          int(group?.retried ?? 0),
          endings,
        ];
      }),
    ),
    '',
    ...(tally.lostReasons.size === 0
      ? []
      : [
          '## Lost responses',
          '',
          ...table(
            ['reason', 'count'],
            [...tally.lostReasons].map(([r, c]) => [r, int(c)]),
          ),
          '',
        ]),
    ...(tally.examples.length === 0
      ? []
      : [
          '## Examples of lost or late requests',
          '',
          ...table(
            [
              'kind',
              'tag',
              'reason',
              'latency',
              'timeline (ms after the call): client, service, upstream answers',
              'detail',
            ],
            tally.examples.map((o) => [
              o.kind,
              String(o.tag),
              o.lostReason ?? 'late',
              ms(o.latencyMs),
              `headers written at ${o.headersWrittenAtMs === undefined ? '?' : ms(o.headersWrittenAtMs)}; ` +
                `service got it at ${o.serviceAtMs === undefined ? '?' : ms(o.serviceAtMs)}; ` +
                (o.upstreamAnswers
                  ?.map(({ answer, atMs }) => `${answer} (at ${atMs === undefined ? '?' : ms(atMs)})`)
                  .join(' → ') ?? '–'),
              o.detail ?? '',
            ]),
          ),
          '',
        ]),
    ...(crashes.samples.length === 0 ? [] : ['## Service crashes', '', '```', ...crashes.samples, '```', '']),
    ...(result.log.samples.length === 0
      ? []
      : [
          '## Service log (distinct lines)',
          '',
          ...table(
            ['line', 'count'],
            result.log.samples.map(([l, c]) => [l, int(c)]),
          ),
          '',
        ]),
  ];
  return { markdown: `${lines.join('\n')}\n`, passed };
}

/** Every 5th point (10 s), with the longest loop delay of the five. */
function everyTenSeconds(points: readonly TimelinePoint[]): TimelinePoint[] {
  const rows: TimelinePoint[] = [];
  for (let start = 0; start + 5 <= points.length; start += 5) {
    const chunk = points.slice(start, start + 5);
    const last = chunk[chunk.length - 1];
    if (last !== undefined) rows.push({ ...last, loopDelayMs: Math.max(...chunk.map((p) => p.loopDelayMs)) });
  }
  return rows;
}

function memory(m: Memory): string {
  return `${mb(m.rss)} (heap ${mb(m.heapUsed)}, external ${mb(m.external)})`;
}

function sum(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

export async function writeReport(markdown: string): Promise<void> {
  await writeFile(new URL('last-run.md', import.meta.url), markdown);
}
