/** The hostile client's count: each move's endings, the upstream calls its markers caused, its rows. */
import type { HostileOutcome, MoveCategory } from './hostile.js';

interface Row {
  category: MoveCategory;
  attack: string;
  transport: string;
  sent: number;
  refused: number;
  answered: number;
  failed: number;
  codes: Map<string, number>;
  slowestMs: number;
  /** Paid fields, records or sockets that came back. */
  records: number;
  /** Foreign reads: ids asked for. */
  reads: number;
  /** Upstream calls its markers caused that count against the service. */
  leakedCalls: number;
  /** Upstream calls of expensive prompts the service ran (priced), allowed. */
  pricedCalls: number;
  examples: string[];
}

export type TargetRow = [name: string, value: string, goal: string, pass: boolean];

const int = (value: number) => value.toLocaleString('en-US');

export class HostileTally {
  readonly rows = new Map<string, Row>();
  private readonly markers = new Map<number, { row: Row; counts: boolean }>();

  add(outcome: HostileOutcome): void {
    const key = `${outcome.category}|${outcome.attack}|${outcome.transport}`;
    let row = this.rows.get(key);
    if (row === undefined) {
      row = {
        ...{ category: outcome.category, attack: outcome.attack, transport: outcome.transport },
        ...{
          sent: 0,
          refused: 0,
          answered: 0,
          failed: 0,
          records: 0,
          reads: 0,
          leakedCalls: 0,
          pricedCalls: 0,
        },
        codes: new Map(),
        slowestMs: 0,
        examples: [],
      };
      this.rows.set(key, row);
    }
    row.sent++;
    row[outcome.verdict]++;
    row.records += outcome.records ?? 0;
    row.reads += outcome.reads ?? 0;
    row.slowestMs = Math.max(row.slowestMs, outcome.latencyMs);
    for (const code of new Set(outcome.codes)) row.codes.set(code, (row.codes.get(code) ?? 0) + 1);
    if (outcome.verdict !== 'refused' && row.examples.length < 2) {
      row.examples.push(
        `${outcome.verdict} (${outcome.codes.join(', ')}): ${outcome.detail ?? ''}`.slice(0, 300),
      );
    }
    if (outcome.marker !== undefined) this.markers.set(outcome.marker, { row, counts: outcome.callsCount });
  }

  /** The stub's `[marker, calls][]`: every call is put on the move that sent the marker. */
  attribute(calls: readonly [number, number][]): { unknownMarkers: number } {
    let unknownMarkers = 0;
    for (const [marker, count] of calls) {
      const sent = this.markers.get(marker);
      if (sent === undefined) unknownMarkers += count;
      else if (sent.counts) sent.row.leakedCalls += count;
      else sent.row.pricedCalls += count;
    }
    return { unknownMarkers };
  }

  private sum(
    field: keyof Row & ('sent' | 'answered' | 'failed' | 'records' | 'reads' | 'leakedCalls' | 'pricedCalls'),
    categories?: MoveCategory[],
  ): number {
    let total = 0;
    for (const row of this.rows.values())
      if (!categories || categories.includes(row.category)) total += row[field];
    return total;
  }

  /** The hostile rows of the targets table (none when no hostile loop ran). */
  targets(unknownMarkers: number): TargetRow[] {
    if (this.rows.size === 0) return [];
    const leaked = this.sum('leakedCalls') + unknownMarkers;
    const notRefused = this.sum('answered', ['limit evasion', 'large frame']);
    const foreign = this.sum('records', ['foreign read']);
    const reads = this.sum('reads', ['foreign read']);
    const failed = this.sum('failed');
    return [
      ['upstream calls from refused hostile operations', int(leaked), '0', leaked === 0],
      ['limit evasions and WebSocket frames not refused', int(notRefused), '0', notRefused === 0],
      [
        'foreign stored completions read (of ids asked for)',
        `${int(foreign)} (of ${int(reads)})`,
        '0, with ids asked for',
        foreign === 0 && reads > 0,
      ],
      [
        'hostile requests without a coded refusal (5xx, non-JSON, uncoded, no answer)',
        int(failed),
        '0',
        failed === 0,
      ],
    ];
  }

  /** The hostile section of `last-run.md`. */
  section(table: (header: string[], rows: string[][]) => string[]): string[] {
    if (this.rows.size === 0) return [];
    const rows = [...this.rows.values()].sort(
      (a, b) =>
        a.category.localeCompare(b.category) ||
        a.attack.localeCompare(b.attack) ||
        a.transport.localeCompare(b.transport),
    );
    const codes = (row: Row) =>
      [...row.codes.entries()]
        .sort((a, b) => b[1] - a[1])
        .map(([code, count]) => `${code} ${int(count)}`)
        .join(', ');
    const examples = rows.flatMap((row) =>
      row.examples.map((example) => [`${row.attack} / ${row.transport}`, example]),
    );
    return [
      '## Hostile client',
      '',
      `${int(this.sum('sent'))} requests by the hostile client beside the honest ones. Refused: a coded refusal and nothing`,
      'paid; answered: a paid field, a record or an accepted socket came back; failed: no coded answer.',
      'Upstream calls: calls the stub received with the move’s marker (expensive prompts the service ran',
      'and priced are shown after a +, and allowed).',
      '',
      ...table(
        [
          'category',
          'attack',
          'transport',
          'sent',
          'refused',
          'answered',
          'failed',
          'how',
          'slowest',
          'upstream calls',
        ],
        rows.map((row) => [
          row.category,
          row.attack,
          row.transport,
          int(row.sent),
          int(row.refused),
          int(row.answered),
          int(row.failed),
          codes(row),
          `${row.slowestMs.toFixed(0)} ms`,
          row.pricedCalls > 0 ? `${int(row.leakedCalls)} + ${int(row.pricedCalls)}` : int(row.leakedCalls),
        ]),
      ),
      '',
      ...(examples.length === 0
        ? []
        : [
            '### Hostile requests not refused',
            '',
            ...table(['attack / transport', 'what came back'], examples),
            '',
          ]),
    ];
  }
}
