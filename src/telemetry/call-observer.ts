import {
  type Attributes,
  type Context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
} from '@opentelemetry/api';
import { ClientRateLimitError } from '../completions/client-limits.js';
import type { PreparedCompletion } from '../completions/prepare.js';
import type { CallObserver, CallUsage, CallWatch } from '../completions/service.js';
import { errorCodes, toClientError } from '../errors.js';
import { CompletionIdConflictError } from '../storage/index.js';
import type { WireCompletionRequest, WireCompletionResponse } from '../upstream/wire.js';
import type { GenAiAttributes, Metrics } from './metrics.js';
import type { Tracing } from './tracing.js';

/**
 * Each paid call as the GenAI semantic conventions describe it: duration, tokens, time to first
 * chunk and between chunks in metrics; a client span (an internal one for the embedded engine)
 * with the request's parameters, the response's id, model, finish reasons and usage, and each
 * retried attempt as an event.
 */

export interface CallObserverDeps {
  metrics: Metrics;
  tracing?: Tracing;
  /** `openai` for an HTTP upstream, `local` for the embedded engine. */
  providerName: string;
  now?: () => number;
}

/** A stable name for what went wrong: the client-facing code when there is one. */
export function errorType(error: unknown): string {
  const code = toClientError(error)?.extensions.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.name : errorCodes.internal;
}

function isContext(value: unknown): value is Context {
  return typeof (value as Partial<Context> | undefined)?.getValue === 'function';
}

function requestAttributes(wire: WireCompletionRequest, providerName: string): Attributes {
  const attributes: Attributes = {
    'gen_ai.operation.name': 'text_completion',
    'gen_ai.provider.name': providerName,
    'gen_ai.request.model': wire.model,
  };
  const optional: [string, unknown][] = [
    ['gen_ai.request.max_tokens', wire.max_tokens],
    ['gen_ai.request.temperature', wire.temperature],
    ['gen_ai.request.top_p', wire.top_p],
    ['gen_ai.request.seed', wire.seed],
    ['gen_ai.request.choice.count', wire.n],
    ['gen_ai.request.frequency_penalty', wire.frequency_penalty],
    ['gen_ai.request.presence_penalty', wire.presence_penalty],
  ];
  for (const [name, value] of optional) if (typeof value === 'number') attributes[name] = value;
  if (wire.stop != null) attributes['gen_ai.request.stop_sequences'] = [wire.stop].flat();
  return attributes;
}

function contentOf(wire: WireCompletionRequest): string {
  const prompts = Array.isArray(wire.prompt) ? wire.prompt : [wire.prompt];
  return JSON.stringify(
    prompts.map((prompt) => ({ role: 'user', parts: [{ type: 'text', content: String(prompt) }] })),
  );
}

export function createCallObserver(deps: CallObserverDeps): CallObserver {
  const { metrics, tracing, providerName } = deps;
  const now = deps.now ?? (() => performance.now());
  const kind = providerName === 'local' ? SpanKind.INTERNAL : SpanKind.CLIENT;

  function startSpan(wire: WireCompletionRequest, parent: unknown): Span | undefined {
    if (tracing === undefined) return undefined;
    const span = tracing.tracer.startSpan(
      `text_completion ${wire.model}`,
      { kind, attributes: requestAttributes(wire, providerName) },
      isContext(parent) ? parent : ROOT_CONTEXT,
    );
    if (tracing.captureContent) span.setAttribute('gen_ai.input.messages', contentOf(wire));
    return span;
  }

  return {
    refused(error) {
      if (error instanceof ClientRateLimitError) metrics.rateLimitRefusal(error.limit);
      else metrics.rateLimitRefusal('limiter_unavailable');
    },
    storeFailed(error) {
      // A client reusing its own id is told so in a warning; the store did not fail.
      if (!(error instanceof CompletionIdConflictError)) metrics.writeFailure('completions');
    },
    start(call: PreparedCompletion, info): CallWatch {
      const started = now();
      let previous = started;
      let chunks = 0;
      const attributes: GenAiAttributes = { providerName, requestModel: call.wire.model };
      const span = startSpan(call.wire, info.trace);
      const finishReasons: string[] = [];
      let responseId: string | undefined;
      let text = '';
      const note = (response: WireCompletionResponse) => {
        responseId ??= response.id;
        for (const choice of response.choices) {
          if (choice.finish_reason) finishReasons.push(choice.finish_reason);
          if (span !== undefined && tracing?.captureContent) text += choice.text ?? '';
        }
      };
      return {
        callOptions: {
          ...(span === undefined ? {} : { traceHeaders: tracing?.headersFor(span) }),
          onAttempt(status, retried) {
            metrics.upstreamAttempt(status, retried);
            if (retried) span?.addEvent('retry', { 'http.response.status_code': status });
          },
        },
        chunk(chunk) {
          const at = now();
          if (chunks === 0) {
            metrics.firstChunk(attributes, (at - started) / 1000);
            span?.setAttribute('gen_ai.response.time_to_first_chunk', (at - started) / 1000);
          } else metrics.nextChunk(attributes, (at - previous) / 1000);
          chunks++;
          previous = at;
          note(chunk);
        },
        succeeded(usage: CallUsage, response) {
          if (response !== undefined) note(response);
          const ended = { ...attributes, responseModel: usage.model };
          metrics.call(ended, (now() - started) / 1000, {
            input: usage.promptTokens,
            output: usage.completionTokens,
          });
          if (usage.costUsd !== null) metrics.cost(info.client, usage.model, usage.costUsd);
          if (span === undefined) return;
          span.setAttributes({
            'gen_ai.response.model': usage.model,
            'gen_ai.response.finish_reasons': finishReasons,
            'gen_ai.usage.input_tokens': usage.promptTokens,
            'gen_ai.usage.output_tokens': usage.completionTokens,
            ...(responseId === undefined ? {} : { 'gen_ai.response.id': responseId }),
            ...(tracing?.captureContent
              ? {
                  'gen_ai.output.messages': JSON.stringify([
                    { role: 'assistant', parts: [{ type: 'text', content: text }] },
                  ]),
                }
              : {}),
          });
          span.end();
        },
        failed(error) {
          const type = errorType(error);
          metrics.call({ ...attributes, errorType: type }, (now() - started) / 1000);
          if (span === undefined) return;
          span.setAttribute('error.type', type);
          span.setStatus({ code: SpanStatusCode.ERROR, message: type });
          span.end();
        },
      };
    },
  };
}
