/**
 * Section 6's rows: each server's figures, the service's ratios to each peer, the issue's three
 * targets on the rows they judge, and how much else the machine was doing meanwhile.
 */
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import type { BenchChild } from './children.js';
import { percentile, round } from './stats.js';
import type { Row } from './table.js';

const SECTION = '6. peers';

export type PeerKey =
  | 'stub'
  | 'proxy'
  | 'jsonProxy'
  | 'yoga'
  | 'apollo'
  | 'mercurius'
  | 'service'
  | 'guarded'
  | 'rest';

export interface PeerFigures {
  p50: number;
  perSecond16: number;
  perSecond64: number;
  cpu16: number;
  cpu64: number;
  /** The loaded figures of each round, in round order (a ratio is read round by round). */
  rounds: Record<LoadedField, readonly number[]>;
}

export type LoadedField = 'perSecond16' | 'perSecond64' | 'cpu16' | 'cpu64';

/**
 * Ours against a peer: the median over rounds of the two figures' ratio in the same round, so a
 * slow spell of the machine (they come and go over seconds here) weighs on both sides of a ratio
 * rather than on one side of a ratio of medians. p50s are pooled: their ratio is of the pools.
 */
function ratioOf(ours: PeerFigures, peer: PeerFigures, field: keyof Omit<PeerFigures, 'rounds'>): number {
  if (field === 'p50') return ours.p50 / peer.p50;
  const theirs = peer.rounds[field];
  return percentile(
    ours.rounds[field].map((value, round) => value / (theirs[round] ?? Number.NaN)),
    50,
  );
}

const names: Record<PeerKey, string> = {
  stub: 'the stub upstream directly',
  proxy: 'raw Node proxy (REST, piped)',
  jsonProxy: 'raw undici proxy (REST, JSON parse + map)',
  yoga: 'bare graphql-yoga',
  apollo: 'Apollo Server 5',
  mercurius: 'Mercurius + graphql-jit',
  service: 'service, defaults (no keys, limits, storage)',
  guarded: 'service, protections on',
  rest: 'REST face, protections on',
};

export interface MachineCpu {
  at: number;
  /** Whole-machine busy time, µs (from /proc/stat; NaN elsewhere). */
  busy: number;
  /** Ours: the bench process and its children, µs. */
  own: number;
  load: number;
}

/** Linux's USER_HZ: /proc/stat counts in hundredths of a second on every platform Node runs on. */
const TICK_MICROS = 10_000;

export async function machineCpu(children: readonly BenchChild[]): Promise<MachineCpu> {
  let busy = Number.NaN;
  try {
    const line = (await readFile('/proc/stat', 'utf8')).split('\n', 1)[0] ?? '';
    // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
    const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
    busy = ticks.reduce((sum, value, i) => (i === 3 || i === 4 ? sum : sum + value), 0) * TICK_MICROS;
  } catch {}
  const usages = await Promise.all(children.map((child) => child.rpc<NodeJS.CpuUsage>('cpu')));
  usages.push(process.cpuUsage());
  const own = usages.reduce((sum, usage) => sum + usage.user + usage.system, 0);
  return { at: performance.now(), busy, own, load: loadavg()[0] ?? Number.NaN };
}

interface Context {
  sequential: number;
  loaded: number;
  machineBefore: MachineCpu;
  machineAfter: MachineCpu;
  protections: { refusedWithoutKey: boolean; recorded: number; expected: number };
}

interface Figure {
  field: keyof Omit<PeerFigures, 'rounds'>;
  metric: string;
  unit: string;
  digits: number;
  /** Targets on the service's ratio rows, by the peer compared with. */
  targets?: Partial<Record<PeerKey, { ratio: number; text: string; rows: PeerKey[] }>>;
}

export function peerRows(figures: ReadonlyMap<PeerKey, PeerFigures>, context: Context): Row[] {
  const get = (key: PeerKey) => {
    const found = figures.get(key);
    if (found === undefined) throw new Error(`peers: no figures for ${key}`);
    return found;
  };
  const cpuTargets = {
    apollo: { ratio: 1, text: '≤ Apollo Server (milestone)', rows: ['guarded'] },
    mercurius: { ratio: 1, text: 'aim: ≤ Mercurius + jit', rows: ['guarded'] },
    jsonProxy: { ratio: 1.5, text: '≤ 1.5× the raw proxy', rows: ['rest'] },
  } satisfies Figure['targets'];
  const list: Figure[] = [
    { field: 'p50', metric: `latency p50 at c=1 (n=${context.sequential})`, unit: 'ms', digits: 3 },
    { field: 'perSecond16', metric: `requests/s at c=16 (n=${context.loaded})`, unit: 'req/s', digits: 0 },
    { field: 'perSecond64', metric: `requests/s at c=64 (n=${context.loaded})`, unit: 'req/s', digits: 0 },
    { field: 'cpu16', metric: 'server CPU per request at c=16', unit: 'µs', digits: 0, targets: cpuTargets },
    { field: 'cpu64', metric: 'server CPU per request at c=64', unit: 'µs', digits: 0, targets: cpuTargets },
  ];
  // Which baselines each of ours is read against; the peers stand alone.
  const comparisons: [PeerKey, PeerKey[]][] = [
    ['service', ['apollo', 'mercurius']],
    ['guarded', ['apollo', 'mercurius', 'yoga']],
    // The raw proxy parses and maps JSON; the piped one is the floor beside it.
    ['rest', ['jsonProxy', 'proxy']],
  ];
  const rows: Row[] = [];
  for (const figure of list) {
    const value = (key: PeerKey) => round(get(key)[figure.field], figure.digits);
    const peers: PeerKey[] = ['proxy', 'jsonProxy', 'yoga', 'apollo', 'mercurius'];
    if (figure.field === 'p50') peers.unshift('stub');
    for (const key of peers)
      rows.push({
        section: SECTION,
        metric: `${figure.metric}: ${names[key]}`,
        value: value(key),
        unit: figure.unit,
      });
    for (const [ours, baselines] of comparisons) {
      for (const peer of baselines) {
        const ratio = ratioOf(get(ours), get(peer), figure.field);
        const target = figure.targets?.[peer];
        const judged = target?.rows.includes(ours) === true;
        rows.push({
          section: SECTION,
          metric: `${figure.metric}: ${names[ours]} vs ${names[peer]}`,
          value: value(ours),
          unit: figure.unit,
          baseline: value(peer),
          ratio,
          ...(judged ? { target: target.text, pass: ratio <= target.ratio } : {}),
        });
      }
    }
  }
  // The latency target is on the time added over calling the upstream directly.
  const added = (key: PeerKey) => get(key).p50 - get('stub').p50;
  rows.push(
    {
      section: SECTION,
      metric: `p50 added at c=1 over the stub: ${names.apollo}`,
      value: round(added('apollo'), 3),
      unit: 'ms',
    },
    {
      section: SECTION,
      metric: `p50 added at c=1 over the stub: ${names.guarded}`,
      value: round(added('guarded'), 3),
      unit: 'ms',
      baseline: round(added('apollo'), 3),
      ratio: added('guarded') / added('apollo'),
      target: '≤ Apollo Server',
      pass: added('guarded') <= added('apollo'),
    },
  );
  const { refusedWithoutKey, recorded, expected } = context.protections;
  rows.push({
    section: SECTION,
    metric: `protections on: calls counted in the SQLite usage ledger (a call without the key ${refusedWithoutKey ? 'refused' : '**not refused**'})`,
    value: recorded,
    unit: '',
    baseline: expected,
    target: 'all counted, keyless refused',
    pass: refusedWithoutKey && recorded === expected,
  });
  const { machineBefore: before, machineAfter: after } = context;
  const elapsed = (after.at - before.at) * 1_000;
  const others = (after.busy - before.busy - (after.own - before.own)) / elapsed;
  rows.push({
    section: SECTION,
    metric: `machine: CPU of other processes while measuring (load average ${before.load.toFixed(1)} → ${after.load.toFixed(1)})`,
    value: Number.isFinite(others) ? round(Math.max(0, others) * 100, 0) : 0,
    unit: '% of a core',
  });
  return rows;
}
