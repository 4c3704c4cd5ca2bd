import type { IncomingMessage } from 'node:http';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { type Logger, pino } from 'pino';
import type { CallUsage } from '../completions/service.js';
import type { RestAccess, RestObservation } from '../rest/openai-compat.js';
import { detectorOf } from './logger.js';
import type { Tracing } from './tracing.js';

/** One operation as its access line tells it. */
export interface AccessEntry {
  requestId: string | undefined;
  client: string | undefined;
  operation: { type: string; name: string | undefined };
  /** `OK`, or the first error's code. */
  outcome: string;
  /** The REST face's HTTP status. */
  status?: number;
  durationMs: number;
  /** Streams: until the first event. */
  timeToFirstEventMs?: number | undefined;
  /** What its paid calls used. */
  calls: readonly CallUsage[];
}

const roundMs = (ms: number | undefined): number | undefined =>
  ms === undefined ? undefined : Math.round(ms * 10) / 10;

const q = JSON.stringify;
const { chindingsSym, endSym, formattersSym, hooksSym, lsCacheSym, messageKeySym, mixinSym } = pino.symbols;
const msgPrefixSym = (pino.symbols as unknown as Record<string, symbol>).msgPrefixSym as symbol;
const { needsMetadataGsym, serializersSym, streamSym, timeSym } = pino.symbols;
const accessKeys = [
  'requestId',
  'client',
  'operation',
  'outcome',
  'status',
  'durationMs',
  'timeToFirstEventMs',
  'models',
  'deployments',
  'tokensIn',
  'tokensOut',
  'costUsd',
];

type Internals = Record<symbol, unknown>;

/**
 * Whether this logger writes lines as createLogger's do, so that logAccess may write the line
 * itself with pino's own parts (level, time, bindings, end, stream and its secret scrubber):
 * pino serialising the entry cost several times more, and its garbage came due at every
 * young-generation collection. Any option that changes lines (a log formatter, a mixin, a message
 * key or prefix, a serializer of these keys, a stream that wants metadata) and pino does it.
 */
function writesPlainLines(logger: Logger): boolean {
  const internals = logger as unknown as Internals;
  const formatters = internals[formattersSym] as { log?: unknown } | undefined;
  const serializers = (internals[serializersSym] ?? {}) as Record<string, unknown>;
  const stream = internals[streamSym] as Internals | undefined;
  return (
    formatters?.log === undefined &&
    internals[mixinSym] === undefined &&
    internals[messageKeySym] === 'msg' &&
    typeof internals[msgPrefixSym] !== 'string' &&
    typeof internals[timeSym] === 'function' &&
    typeof (internals[lsCacheSym] as Record<number, unknown> | undefined)?.[30] === 'string' &&
    accessKeys.every((key) => serializers[key] === undefined) &&
    stream !== undefined &&
    typeof (stream as { write?: unknown }).write === 'function' &&
    stream[needsMetadataGsym] !== true
  );
}
const plain = new WeakMap<Logger, boolean>();

/** A finite number as JSON writes it, or null (as pino writes a number that is not finite). */
const num = (value: number) => (Number.isFinite(value) ? String(value) : 'null');

/** The entry's fields, as `,"key":value` pairs in the order pino would write them. */
function fields(entry: AccessEntry, summary: CallSummary): string {
  let line = '';
  if (entry.requestId !== undefined) line += `,"requestId":${q(entry.requestId)}`;
  if (entry.client !== undefined) line += `,"client":${q(entry.client)}`;
  line +=
    entry.operation.name === undefined
      ? `,"operation":{"type":${q(entry.operation.type)}}`
      : `,"operation":{"type":${q(entry.operation.type)},"name":${q(entry.operation.name)}}`;
  line += `,"outcome":${q(entry.outcome)}`;
  if (entry.status !== undefined) line += `,"status":${num(entry.status)}`;
  line += `,"durationMs":${num(roundMs(entry.durationMs) as number)}`;
  if (entry.timeToFirstEventMs !== undefined)
    line += `,"timeToFirstEventMs":${num(roundMs(entry.timeToFirstEventMs) as number)}`;
  if (summary.models !== undefined) line += `,"models":${q(summary.models)}`;
  if (summary.deployments !== undefined) line += `,"deployments":${q(summary.deployments)}`;
  if (summary.tokensIn !== undefined) line += `,"tokensIn":${num(summary.tokensIn)}`;
  if (summary.tokensOut !== undefined) line += `,"tokensOut":${num(summary.tokensOut)}`;
  if (summary.costUsd !== undefined)
    line += `,"costUsd":${summary.costUsd === null ? 'null' : num(summary.costUsd)}`;
  return line;
}

interface CallSummary {
  models: string[] | undefined;
  deployments: string[] | undefined;
  tokensIn: number | undefined;
  tokensOut: number | undefined;
  costUsd: number | null | undefined;
}

function summarise(calls: readonly CallUsage[]): CallSummary {
  const summary: CallSummary = {
    models: undefined,
    deployments: undefined,
    tokensIn: undefined,
    tokensOut: undefined,
    costUsd: undefined,
  };
  for (const call of calls) {
    summary.models ??= [];
    if (!summary.models.includes(call.model)) summary.models.push(call.model);
    if (call.deployment !== undefined) {
      summary.deployments ??= [];
      if (!summary.deployments.includes(call.deployment)) summary.deployments.push(call.deployment);
    }
    summary.tokensIn = (summary.tokensIn ?? 0) + call.promptTokens;
    summary.tokensOut = (summary.tokensOut ?? 0) + call.completionTokens;
    summary.costUsd =
      summary.costUsd === null || call.costUsd === null ? null : (summary.costUsd ?? 0) + call.costUsd;
  }
  return summary;
}

/**
 * The access line at `info`, one shape for GraphQL operations and REST requests: written by
 * pino's own parts when the logger is a plain one (see writesPlainLines), else through pino.
 * Absent fields are left out, as JSON leaves out undefined.
 */
export function logAccess(logger: Logger, entry: AccessEntry): void {
  if (!logger.isLevelEnabled('info')) return;
  const summary = summarise(entry.calls);
  let fast = plain.get(logger);
  if (fast === undefined) {
    fast = writesPlainLines(logger);
    plain.set(logger, fast);
  }
  if (!fast) {
    logger.info(
      {
        requestId: entry.requestId,
        client: entry.client,
        operation: entry.operation,
        outcome: entry.outcome,
        status: entry.status,
        durationMs: roundMs(entry.durationMs),
        timeToFirstEventMs: roundMs(entry.timeToFirstEventMs),
        models: summary.models,
        deployments: summary.deployments,
        tokensIn: summary.tokensIn,
        tokensOut: summary.tokensOut,
        costUsd: summary.costUsd,
      },
      'operation',
    );
    return;
  }
  const internals = logger as unknown as Internals;
  const line = `${(internals[lsCacheSym] as Record<number, string>)[30]}${(internals[timeSym] as () => string)()}${internals[chindingsSym] as string}${fields(entry, summary)},"msg":"operation"${internals[endSym] as string}`;
  const hook = (internals[hooksSym] as { streamWrite?: (line: string) => string } | undefined)?.streamWrite;
  const clean = hook === undefined || outsideTextPasses(entry, summary, detectorOf(hook));
  (internals[streamSym] as { write(line: string): void }).write(clean ? line : hook(line));
}

/**
 * Whether the scrubber would leave the line as it is, tested on the fields whose text comes from
 * outside (ids, names, codes, models): the rest is numbers and the service's own words, and the
 * whole line cost several times as long to test. Unknown hooks are run on the whole line.
 */
function outsideTextPasses(
  entry: AccessEntry,
  summary: CallSummary,
  suspect: ((text: string) => boolean) | undefined,
): boolean {
  if (suspect === undefined) return false;
  const texts = [entry.requestId, entry.client, entry.operation.name, entry.outcome];
  for (const text of texts) if (text !== undefined && suspect(text)) return false;
  for (const list of [summary.models, summary.deployments])
    for (const text of list ?? []) if (suspect(text)) return false;
  return true;
}

/**
 * The REST face's request, observed as a GraphQL operation is: a server span continuing the
 * caller's trace (the call's span hangs from it), and the access line.
 */
export function restObserver(logger: Logger, tracing?: Tracing): (req: IncomingMessage) => RestObservation {
  const log = restAccessLog(logger);
  return (req) => {
    if (tracing === undefined) return { trace: undefined, answered: log };
    const parent = tracing.extract(req.headers);
    const span = tracing.startSpan(
      'POST /v1/completions',
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST', 'url.path': '/v1/completions' } },
      parent,
    );
    return {
      trace: tracing.withSpan(parent, span),
      answered(entry) {
        span.setAttribute('http.response.status_code', entry.status);
        if (entry.outcome !== 'OK') {
          span.setAttribute('error.type', entry.outcome);
          span.setStatus({ code: SpanStatusCode.ERROR, message: entry.outcome });
        }
        span.end();
        log(entry);
      },
    };
  };
}

/** The REST face's access line: one per `POST /v1/completions`, the GraphQL line's shape. */
function restAccessLog(logger: Logger): (entry: RestAccess) => void {
  return (entry) =>
    logAccess(logger, {
      requestId: entry.requestId,
      client: entry.client,
      operation: { type: 'rest', name: 'POST /v1/completions' },
      outcome: entry.outcome,
      status: entry.status,
      durationMs: entry.durationMs,
      calls: entry.usage === undefined ? [] : [entry.usage],
    });
}
