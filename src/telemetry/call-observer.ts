import {
  type Attributes,
  type Context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
} from '@opentelemetry/api';
import type { PreparedCompletion } from '../completions/prepare.js';
import type { CallObserver, CallUsage, CallWatch } from '../completions/service.js';
import { errorCodes, toClientError } from '../errors.js';
import { ClientRateLimitError } from '../limits/client-budget.js';
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
  const number = (name: string, value: unknown) => {
    if (typeof value === 'number') attributes[name] = value;
  };
  number('gen_ai.request.max_tokens', wire.max_tokens);
  number('gen_ai.request.temperature', wire.temperature);
  number('gen_ai.request.top_p', wire.top_p);
  number('gen_ai.request.seed', wire.seed);
  number('gen_ai.request.choice.count', wire.n);
  number('gen_ai.request.frequency_penalty', wire.frequency_penalty);
  number('gen_ai.request.presence_penalty', wire.presence_penalty);
  if (wire.stop != null) attributes['gen_ai.request.stop_sequences'] = [wire.stop].flat();
  return attributes;
}

function contentOf(wire: WireCompletionRequest): string {
  const prompts = Array.isArray(wire.prompt) ? wire.prompt : [wire.prompt];
  return JSON.stringify(
    prompts.map((prompt) => ({ role: 'user', parts: [{ type: 'text', content: String(prompt) }] })),
  );
}

/**
 * One call's watch. A class, not closures: it is made for every paid call, and without a span it
 * only times the call and counts it.
 */
class Watch implements CallWatch {
  readonly callOptions: CallWatch['callOptions'];
  private readonly started: number;
  private previous: number;
  private chunks = 0;
  private readonly requestModel: string;
  private readonly finishReasons: string[] = [];
  private responseId: string | undefined;
  private text = '';

  constructor(
    private readonly deps: Required<Pick<CallObserverDeps, 'metrics' | 'providerName' | 'now'>> &
      Pick<CallObserverDeps, 'tracing'>,
    wire: WireCompletionRequest,
    private readonly client: string,
    private span: Span | undefined,
    onAttempt: (status: string, retried: boolean) => void,
  ) {
    this.started = deps.now();
    this.previous = this.started;
    this.requestModel = wire.model;
    if (span === undefined) this.callOptions = { onAttempt };
    else if (!span.isRecording()) {
      // An operation not sampled: its trace is passed on, nothing is recorded.
      this.callOptions = { traceHeaders: deps.tracing?.headersFor(span) ?? {}, onAttempt };
      this.span = undefined;
    } else {
      this.callOptions = {
        traceHeaders: deps.tracing?.headersFor(span) ?? {},
        onAttempt: (status, retried) => {
          onAttempt(status, retried);
          if (retried) span.addEvent('retry', { 'http.response.status_code': status });
        },
      };
    }
  }

  private attributes(responseModel?: string, errorType?: string): GenAiAttributes {
    return {
      providerName: this.deps.providerName,
      requestModel: this.requestModel,
      responseModel,
      errorType,
    };
  }

  /** What the span reports of the response: its id, finish reasons, and text when opted in. */
  private note(response: WireCompletionResponse): void {
    if (this.span === undefined) return;
    this.responseId ??= response.id;
    const capture = this.deps.tracing?.captureContent === true;
    for (const choice of response.choices) {
      if (choice.finish_reason) this.finishReasons.push(choice.finish_reason);
      if (capture) this.text += choice.text ?? '';
    }
  }

  chunk(chunk: WireCompletionResponse): void {
    const at = this.deps.now();
    if (this.chunks === 0) {
      this.deps.metrics.firstChunk(this.attributes(), (at - this.started) / 1000);
      this.span?.setAttribute('gen_ai.response.time_to_first_chunk', (at - this.started) / 1000);
    } else this.deps.metrics.nextChunk(this.attributes(), (at - this.previous) / 1000);
    this.chunks++;
    this.previous = at;
    this.note(chunk);
  }

  succeeded(usage: CallUsage, response?: WireCompletionResponse): void {
    const { metrics } = this.deps;
    metrics.call(this.attributes(usage.model), (this.deps.now() - this.started) / 1000, {
      input: usage.promptTokens,
      output: usage.completionTokens,
    });
    if (usage.costUsd !== null) metrics.cost(this.client, usage.model, usage.costUsd);
    const span = this.span;
    if (span === undefined) return;
    if (response !== undefined) this.note(response);
    span.setAttributes({
      'gen_ai.response.model': usage.model,
      'gen_ai.response.finish_reasons': this.finishReasons,
      'gen_ai.usage.input_tokens': usage.promptTokens,
      'gen_ai.usage.output_tokens': usage.completionTokens,
    });
    if (this.responseId !== undefined) span.setAttribute('gen_ai.response.id', this.responseId);
    if (this.deps.tracing?.captureContent) {
      const output = [{ role: 'assistant', parts: [{ type: 'text', content: this.text }] }];
      span.setAttribute('gen_ai.output.messages', JSON.stringify(output));
    }
    span.end();
  }

  failed(error: unknown): void {
    const type = errorType(error);
    this.deps.metrics.call(this.attributes(undefined, type), (this.deps.now() - this.started) / 1000);
    if (this.span === undefined) return;
    this.span.setAttribute('error.type', type);
    this.span.setStatus({ code: SpanStatusCode.ERROR, message: type });
    this.span.end();
  }
}

export function createCallObserver(deps: CallObserverDeps): CallObserver {
  const { metrics, tracing, providerName } = deps;
  const settings = { metrics, tracing, providerName, now: deps.now ?? (() => performance.now()) };
  const kind = providerName === 'local' ? SpanKind.INTERNAL : SpanKind.CLIENT;
  const onAttempt = (status: string, retried: boolean) => metrics.upstreamAttempt(status, retried);

  function startSpan(wire: WireCompletionRequest, parent: unknown): Span | undefined {
    if (tracing === undefined) return undefined;
    const span = tracing.startSpan(
      `text_completion ${wire.model}`,
      { kind },
      isContext(parent) ? parent : ROOT_CONTEXT,
    );
    // Attributes only for a span that records them (the samplers here do not read them).
    if (!span.isRecording()) return span;
    span.setAttributes(requestAttributes(wire, providerName));
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
    start: (call: PreparedCompletion, info) =>
      new Watch(settings, call.wire, info.client, startSpan(call.wire, info.trace), onAttempt),
  };
}
