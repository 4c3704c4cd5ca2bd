/** The running count of outcomes: verdicts, codes, lost reasons, latencies and a few examples. */
import type { OperationKind, Outcome } from './client.js';

export const kinds: readonly OperationKind[] = ['mutation', 'stream', 'models', 'read'];

type PerKind = Record<OperationKind, number>;
const perKind = (): PerKind => ({ mutation: 0, stream: 0, models: 0, read: 0 });

export class Tally {
  total = 0;
  ok = 0;
  errors = 0;
  lost = 0;
  /** Errors that came after the service's deadline (plus slack). */
  late = 0;
  /** GraphQL errors without `extensions.code` (also counted as lost). */
  uncoded = 0;
  readonly requests = perKind();
  readonly codes = new Map<string, PerKind>();
  readonly lostReasons = new Map<string, number>();
  /** The slowest error of each kind, ms. */
  readonly slowestError = perKind();
  readonly latencies: number[] = [];
  /** Lost or late outcomes, the first few of each reason. */
  readonly examples: Outcome[] = [];
  /** Tag → how the request ended (`ok`, its first code, or `lost: <reason>`). */
  readonly endings = new Map<number, string>();

  add(outcome: Outcome): void {
    this.total++;
    this.requests[outcome.kind]++;
    this.latencies.push(outcome.latencyMs);
    if (outcome.verdict === 'ok') this.ok++;
    else if (outcome.verdict === 'error') this.errors++;
    else this.lost++;
    if (outcome.late) this.late++;
    if (outcome.lostReason === 'error without a code') this.uncoded++;
    if (outcome.verdict === 'error') {
      this.slowestError[outcome.kind] = Math.max(this.slowestError[outcome.kind], outcome.latencyMs);
    }
    for (const code of outcome.codes) {
      const counts = this.codes.get(code) ?? perKind();
      counts[outcome.kind]++;
      this.codes.set(code, counts);
    }
    if (outcome.lostReason !== undefined) {
      this.lostReasons.set(outcome.lostReason, (this.lostReasons.get(outcome.lostReason) ?? 0) + 1);
    }
    if (outcome.verdict === 'lost' || outcome.late) {
      const reason = outcome.lostReason ?? 'late';
      const seen = this.examples.filter((example) => (example.lostReason ?? 'late') === reason).length;
      if (seen < 3) this.examples.push(outcome);
    }
    this.endings.set(
      outcome.tag,
      outcome.verdict === 'ok'
        ? 'ok'
        : outcome.verdict === 'error'
          ? (outcome.codes[0] ?? '?')
          : `lost: ${outcome.lostReason}`,
    );
  }
}

export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

/**
 * How requests ended, grouped by the stub's answer to their last upstream attempt:
 * `answer → { requests, retried, endings }`.
 */
export function endingsByFault(
  tally: Tally,
  attempts: readonly [number, string[]][],
): Map<string, { requests: number; retried: number; endings: Map<string, number> }> {
  const groups = new Map<string, { requests: number; retried: number; endings: Map<string, number> }>();
  for (const [tag, answers] of attempts) {
    const ending = tally.endings.get(tag);
    if (ending === undefined) continue;
    const key = answers[answers.length - 1] ?? '?';
    const group = groups.get(key) ?? { requests: 0, retried: 0, endings: new Map<string, number>() };
    group.requests++;
    if (answers.length > 1) group.retried++;
    group.endings.set(ending, (group.endings.get(ending) ?? 0) + 1);
    groups.set(key, group);
  }
  return groups;
}

/** Codes of the service's own limits: an honest request must never meet one. */
const refusalCodes = new Set([
  'RATE_LIMITED',
  'COST_LIMIT_EXCEEDED',
  'MAX_COMPLETIONS_EXCEEDED',
  'UNAUTHENTICATED',
  'BAD_USER_INPUT',
  'GRAPHQL_VALIDATION_FAILED',
  'PAYLOAD_TOO_LARGE',
]);

export function refusedByLimits(tally: Tally): number {
  let total = 0;
  for (const [code, counts] of tally.codes) {
    if (refusalCodes.has(code)) total += Object.values(counts).reduce((a, b) => a + b, 0);
  }
  return total;
}

/** Requests whose upstream call was answered (and billed) but whose client got neither it nor a code. */
export function lostPaid(groups: ReturnType<typeof endingsByFault>): number {
  let total = 0;
  for (const [ending, count] of groups.get('ok')?.endings ?? [])
    if (ending.startsWith('lost')) total += count;
  return total;
}
