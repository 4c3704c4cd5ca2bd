import type { IncomingMessage } from 'node:http';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { CallUsage } from '../completions/service.js';
import type { RestAccess, RestObservation } from '../rest/openai-compat.js';
import type { Tracing } from './tracing.js';

/**
 * The access line's fields about what an operation's paid calls used, written as one literal shape
 * (absent fields undefined, which JSON leaves out): spreads of optional parts make objects that
 * serialise several times slower, on every operation.
 */
export function usageFields(calls: readonly CallUsage[]): {
  models: string[] | undefined;
  /** The deployments that served (UPSTREAMS_FILE); undefined with one upstream. */
  deployments: string[] | undefined;
  tokensIn: number | undefined;
  tokensOut: number | undefined;
  costUsd: number | null | undefined;
} {
  if (calls.length === 0) {
    return {
      models: undefined,
      deployments: undefined,
      tokensIn: undefined,
      tokensOut: undefined,
      costUsd: undefined,
    };
  }
  let tokensIn = 0;
  let tokensOut = 0;
  let costUsd: number | null = 0;
  const models: string[] = [];
  let deployments: string[] | undefined;
  for (const call of calls) {
    if (call.deployment !== undefined) {
      deployments ??= [];
      if (!deployments.includes(call.deployment)) deployments.push(call.deployment);
    }
    tokensIn += call.promptTokens;
    tokensOut += call.completionTokens;
    costUsd = costUsd === null || call.costUsd === null ? null : costUsd + call.costUsd;
    if (!models.includes(call.model)) models.push(call.model);
  }
  return { models, deployments, tokensIn, tokensOut, costUsd };
}

export const roundMs = (ms: number): number => Math.round(ms * 10) / 10;

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
  return (entry) => {
    if (!logger.isLevelEnabled('info')) return;
    const usage = usageFields(entry.usage === undefined ? [] : [entry.usage]);
    logger.info(
      {
        requestId: entry.requestId,
        client: entry.client,
        operation: { type: 'rest', name: 'POST /v1/completions' },
        outcome: entry.outcome,
        status: entry.status,
        durationMs: roundMs(entry.durationMs),
        models: usage.models,
        deployments: usage.deployments,
        tokensIn: usage.tokensIn,
        tokensOut: usage.tokensOut,
        costUsd: usage.costUsd,
      },
      'operation',
    );
  };
}
