import type { IncomingMessage } from 'node:http';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { CallUsage } from '../completions/service.js';
import type { RestAccess, RestObservation } from '../rest/openai-compat.js';
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

/**
 * The access line at `info`, one shape for GraphQL operations and REST requests. Written as one
 * literal (absent fields undefined, which JSON leaves out): spreads of optional parts make objects
 * that serialise several times slower, on every operation.
 */
export function logAccess(logger: Logger, entry: AccessEntry): void {
  if (!logger.isLevelEnabled('info')) return;
  let models: string[] | undefined;
  let deployments: string[] | undefined;
  let tokensIn: number | undefined;
  let tokensOut: number | undefined;
  let costUsd: number | null | undefined;
  for (const call of entry.calls) {
    models ??= [];
    if (!models.includes(call.model)) models.push(call.model);
    if (call.deployment !== undefined) {
      deployments ??= [];
      if (!deployments.includes(call.deployment)) deployments.push(call.deployment);
    }
    tokensIn = (tokensIn ?? 0) + call.promptTokens;
    tokensOut = (tokensOut ?? 0) + call.completionTokens;
    costUsd = costUsd === null || call.costUsd === null ? null : (costUsd ?? 0) + call.costUsd;
  }
  logger.info(
    {
      requestId: entry.requestId,
      client: entry.client,
      operation: entry.operation,
      outcome: entry.outcome,
      status: entry.status,
      durationMs: roundMs(entry.durationMs),
      timeToFirstEventMs: roundMs(entry.timeToFirstEventMs),
      models,
      deployments,
      tokensIn,
      tokensOut,
      costUsd,
    },
    'operation',
  );
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
    const span = tracing.tracer.startSpan(
      'POST /v1/completions',
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST', 'url.path': '/v1/completions' } },
      parent,
    );
    return {
      trace: trace.setSpan(parent, span),
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
