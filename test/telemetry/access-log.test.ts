import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { type AccessEntry, logAccess } from '../../src/telemetry/access-log.js';
import { createLogger } from '../../src/telemetry/logger.js';

/**
 * logAccess writes the line itself, with pino's parts, for the loggers createLogger makes: the
 * line must be the one pino would write, and any logger pino would write differently goes through
 * pino.
 */

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, destination };
}

const call = {
  model: 'gpt-3.5-turbo-instruct:20230824-v2',
  promptTokens: 10,
  completionTokens: 12,
  costUsd: 0.000039,
  requestId: 'cmpl-1',
};

const entries: [string, AccessEntry][] = [
  [
    'a paid mutation',
    {
      requestId: 'support-ticket-42',
      client: 'bench',
      operation: { type: 'mutation', name: 'Create' },
      outcome: 'OK',
      durationMs: 3.456,
      calls: [call, { ...call, model: 'other "quoted" model', deployment: 'eu-1', costUsd: null }],
    },
  ],
  [
    'an anonymous failed stream',
    {
      requestId: undefined,
      client: undefined,
      operation: { type: 'subscription', name: undefined },
      outcome: 'UPSTREAM_UNAVAILABLE',
      durationMs: 12.04,
      timeToFirstEventMs: 1.25,
      calls: [],
    },
  ],
  [
    'a REST request',
    {
      requestId: 'r\u00e9q-\u2028',
      client: 'team\\a',
      operation: { type: 'rest', name: 'POST /v1/completions' },
      outcome: 'OK',
      status: 200,
      durationMs: Number.NaN,
      calls: [{ ...call, deployment: 'us-2' }],
    },
  ],
];

/** What pino writes for the entry (the object logAccess gave pino before it wrote lines itself). */
function pinoLine(logger: pino.Logger, entry: AccessEntry): void {
  const models = entry.calls.length === 0 ? undefined : [...new Set(entry.calls.map((c) => c.model))];
  const deployments = entry.calls.flatMap((c) => (c.deployment === undefined ? [] : [c.deployment]));
  const round = (ms: number | undefined) => (ms === undefined ? undefined : Math.round(ms * 10) / 10);
  logger.info(
    {
      requestId: entry.requestId,
      client: entry.client,
      operation: entry.operation,
      outcome: entry.outcome,
      status: entry.status,
      durationMs: round(entry.durationMs),
      timeToFirstEventMs: round(entry.timeToFirstEventMs),
      models,
      deployments: deployments.length === 0 ? undefined : [...new Set(deployments)],
      tokensIn: entry.calls.length === 0 ? undefined : entry.calls.reduce((n, c) => n + c.promptTokens, 0),
      tokensOut:
        entry.calls.length === 0 ? undefined : entry.calls.reduce((n, c) => n + c.completionTokens, 0),
      costUsd:
        entry.calls.length === 0
          ? undefined
          : entry.calls.some((c) => c.costUsd === null)
            ? null
            : entry.calls.reduce((n, c) => n + (c.costUsd ?? 0), 0),
    },
    'operation',
  );
}

const withoutTime = (line: string) => line.replace(/,"time":\d+/, '');

describe('the access line', () => {
  it.each(entries)('of %s is the line pino writes, byte for byte but the time', (_, entry) => {
    const { lines, destination } = capture();
    const logger = createLogger({ level: 'info', secrets: [], destination }).child({ app: 'test' });
    logAccess(logger, entry);
    pinoLine(logger, entry);
    expect(lines).toHaveLength(2);
    expect(withoutTime(lines[0] ?? '')).toBe(withoutTime(lines[1] ?? ''));
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({ level: 30, app: 'test', msg: 'operation' });
  });

  it('is scrubbed of secrets like every other line', () => {
    const { lines, destination } = capture();
    const logger = createLogger({ level: 'info', secrets: [], destination });
    logAccess(logger, { ...(entries[0]?.[1] as AccessEntry), client: 'sk-live-abcdef123' });
    expect(lines[0]).toContain('[redacted]');
    expect(lines[0]).not.toContain('sk-live-abcdef123');
  });

  // The line is tested on its fields from outside: each of them, when it carries a secret, gets
  // the whole line scrubbed; the service's own words and numbers never do.
  const secret = 'hunter2-redis-password';
  const base = entries[0]?.[1] as AccessEntry;
  const call = base.calls[0] as AccessEntry['calls'][number];
  it.each<[string, AccessEntry]>([
    ['the request id', { ...base, requestId: `id-${secret}` }],
    ['the operation name', { ...base, operation: { type: 'query', name: `Q ${secret}` } }],
    ['the outcome', { ...base, outcome: secret }],
    ['a model an upstream named', { ...base, calls: [{ ...call, model: `echo ${secret}` }] }],
    ['a deployment', { ...base, calls: [{ ...call, deployment: secret }] }],
    ['a bearer token', { ...base, operation: { type: 'query', name: 'Bearer abc.def' } }],
  ])('is scrubbed when %s carries a secret', (_, entry) => {
    const { lines, destination } = capture();
    logAccess(createLogger({ level: 'info', secrets: [secret], destination }), entry);
    expect(lines[0]).toContain('[redacted]');
    expect(lines[0]).not.toContain(secret);
    expect(lines[0]).not.toContain('abc.def');
  });

  it('is not written below info', () => {
    const { lines, destination } = capture();
    logAccess(createLogger({ level: 'warn', secrets: [], destination }), entries[0]?.[1] as AccessEntry);
    expect(lines).toEqual([]);
  });

  it('goes through pino for a logger that writes lines its own way', () => {
    const { lines, destination } = capture();
    const logger = pino({ mixin: () => ({ mixed: true }), messageKey: 'message' }, destination);
    logAccess(logger, entries[0]?.[1] as AccessEntry);
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({ mixed: true, message: 'operation', outcome: 'OK' });
  });
});
