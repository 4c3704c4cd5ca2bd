import type { IncomingMessage } from 'node:http';
import { ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { type ExecutionResult, GraphQLError, getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { GraphQLContext } from '../context.js';
import { errorCodes, originalError, toClientError } from '../errors.js';
import { requestIdOf } from '../http/request-id.js';
import { logAccess } from '../telemetry/access-log.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { Tracing } from '../telemetry/tracing.js';

/**
 * Every operation, on every transport, observed once: a server span (continuing the caller's W3C
 * trace) that the paid calls' spans hang from, the operation metric by type, name and outcome, the
 * errors it raised logged at their level with the request id, and one access line at `info`.
 */

export interface OperationTelemetryDeps {
  logger: Logger;
  metrics: Metrics;
  tracing?: Tracing;
  now?: () => number;
}

/** The stable code of an error, when it has one (a resolver's typed error, or a coded GraphQLError). */
export function clientCode(value: unknown): string | undefined {
  const own = value instanceof GraphQLError ? value.extensions.code : undefined;
  if (typeof own === 'string') return own;
  const code = toClientError(originalError(value))?.extensions.code;
  return typeof code === 'string' ? code : undefined;
}

type Context = Partial<GraphQLContext> & { req?: IncomingMessage };

/**
 * What the client was told with a stable code is routine (a bad parameter, a cancelled call:
 * debug); an upstream failure is the operator's business but not a bug here (warn, its code
 * alone: the document may hold a prompt); the rest is an error.
 */
function logErrors(logger: Logger, errors: readonly GraphQLError[], requestId: string | undefined): void {
  for (const error of errors) {
    const code = clientCode(error);
    if (code === undefined || code === errorCodes.internal) {
      logger.error({ requestId, err: originalError(error) }, 'unexpected error, masked for the client');
    } else if (code.startsWith('UPSTREAM_')) {
      logger.warn({ requestId, code }, (originalError(error) as Error).message ?? code);
    } else if (logger.isLevelEnabled('debug')) {
      // The code and the argument at fault, not the message: it may quote a variable's value (a prompt).
      const argument = error.extensions?.argument;
      logger.debug(
        { requestId, code, ...(typeof argument === 'string' ? { argument } : {}) },
        'operation refused',
      );
    }
  }
}

export function useOperationTelemetry(deps: OperationTelemetryDeps): Plugin {
  const { logger, metrics, tracing } = deps;
  const now = deps.now ?? (() => performance.now());

  type Args = Parameters<NonNullable<Plugin['onExecute']>>[0]['args'];

  function begin(args: Args) {
    const started = now();
    const operation = getOperationAST(args.document, args.operationName);
    const type = operation?.operation ?? 'query';
    // A client picks the name: it is cut short before it reaches a span name or a log line.
    const given = operation?.name?.value;
    const name = given !== undefined && given.length > 100 ? `${given.slice(0, 100)}…` : given;
    const context = args.contextValue as Context;
    const requestId = context.requestId ?? (context.req === undefined ? undefined : requestIdOf(context.req));
    let span: Span | undefined;
    if (tracing !== undefined) {
      const parent = context.req === undefined ? ROOT_CONTEXT : tracing.extract(context.req.headers);
      span = tracing.startSpan(
        name === undefined ? type : `${type} ${name}`,
        { kind: SpanKind.SERVER },
        parent,
      );
      // Attributes only for a span that records them (the samplers here do not read them).
      if (span.isRecording()) {
        span.setAttribute('graphql.operation.type', type);
        if (name !== undefined) span.setAttribute('graphql.operation.name', name);
      }
      // The paid calls' spans hang from this one (read by completionCallOptions).
      context.trace = tracing.withSpan(parent, span);
    }
    let outcome = 'OK';
    let firstEventMs: number | undefined;
    return {
      /** A result or a stream's event: its errors logged, the first error's code kept as the outcome. */
      seen(result: ExecutionResult) {
        if (firstEventMs === undefined && type === 'subscription') firstEventMs = now() - started;
        const errors = result.errors ?? [];
        if (errors.length === 0) return;
        logErrors(logger, errors, requestId);
        if (outcome === 'OK') outcome = clientCode(errors[0]) ?? errorCodes.internal;
      },
      end() {
        const durationMs = now() - started;
        metrics.operation(type, name, outcome, durationMs / 1000);
        const calls = context.usageReport ?? [];
        if (span !== undefined) {
          if (outcome !== 'OK') {
            span.setAttribute('error.type', outcome);
            span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
          }
          span.end();
        }
        logAccess(logger, {
          requestId,
          client: context.client?.name,
          operation: { type, name },
          outcome,
          durationMs,
          timeToFirstEventMs: firstEventMs,
          calls,
        });
      },
    };
  }

  return {
    onExecute({ args }) {
      const observed = begin(args);
      return {
        onExecuteDone({ result }) {
          if (Symbol.asyncIterator in result) return;
          observed.seen(result);
          observed.end();
        },
      };
    },
    onSubscribe({ args }) {
      const observed = begin(args);
      metrics.openStreams.inc();
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        metrics.openStreams.dec();
        observed.end();
      };
      return {
        onSubscribeError({ error }) {
          observed.seen({
            errors: [error instanceof GraphQLError ? error : new GraphQLError(String(error))],
          });
          end();
        },
        onSubscribeResult({ result }) {
          if (!(Symbol.asyncIterator in result)) {
            observed.seen(result);
            end();
            return;
          }
          return {
            onNext: ({ result: event }) => observed.seen(event),
            onEnd: end,
          };
        },
      };
    },
  };
}
