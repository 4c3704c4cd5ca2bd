import type { IncomingHttpHeaders } from 'node:http';
import {
  type Context,
  defaultTextMapGetter,
  INVALID_SPAN_CONTEXT,
  isSpanContextValid,
  ROOT_CONTEXT,
  type Span,
  type SpanOptions,
  TraceFlags,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { ExportResultCode, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  RandomIdGenerator,
  type Sampler,
  type SpanExporter,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';

/**
 * Traces over OTLP/HTTP, off unless an endpoint is configured. No global tracer or context
 * manager: an AsyncLocalStorage context costs every request (promise hooks), so spans are parented
 * explicitly — the operation's span travels in the GraphQL context, the call's in its options.
 */

export interface TracingConfig {
  /** The OTLP/HTTP traces URL (…/v1/traces). */
  url: string;
  /** `http/protobuf` (the default: smaller, and cheaper to encode) or `http/json`. */
  protocol?: 'http/protobuf' | 'http/json';
  headers: Readonly<Record<string, string>>;
  serviceName: string;
  /** `always_on`, `always_off`, `traceidratio`, or their `parentbased_` forms (OTEL_TRACES_SAMPLER). */
  sampler: string;
  samplerArg: number | undefined;
  /** Prompt and completion text on spans: off unless asked for. */
  captureContent: boolean;
}

export interface Tracing {
  readonly tracer: Tracer;
  readonly captureContent: boolean;
  /**
   * A span under `parent` (or a root). One that will not be recorded (9 operations in 10 at the
   * production setting) is made without the SDK: a root is sampled here, on a trace id made here
   * (the SDK is handed that id when it is to record the span, and decides alike), and one left out
   * is nothing at all (unsampledRoot); under a caller's parent that was not sampled, a
   * parent-based sampler never samples, and the caller's trace is passed on.
   */
  startSpan(name: string, options: SpanOptions, parent: Context): Span;
  /** `parent` with `span` as the current span: the context the spans under it are started in. */
  withSpan(parent: Context, span: Span): Context;
  /** The caller's trace (W3C `traceparent`), or a new root. */
  extract(headers: IncomingHttpHeaders): Context;
  /** The headers that continue `span`'s trace at the upstream. */
  headersFor(span: Span): Record<string, string>;
  /** Sends what is buffered now. */
  forceFlush(): Promise<void>;
  /** Sends what is buffered and stops; at shutdown. */
  shutdown(): Promise<void>;
}

/**
 * A root the sampler left out, and everything under it: no ids, no span, no `traceparent` for the
 * upstream. Its trace would exist nowhere (the caller sent none, nothing here records it), so
 * its ids, span objects and header were work for nothing on 9 operations in 10 at the production
 * setting. The upstream still gets the request id.
 */
const unsampledRoot: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
/** The context under an unsampled root: one for every such operation, not a new one each time. */
const unsampledContext: Context = trace.setSpan(ROOT_CONTEXT, unsampledRoot);

const randomWord = () => (Math.random() * 2 ** 32) >>> 0;
const idBytes = Buffer.alloc(16);

/**
 * How roots are picked, as a bound on the value TraceIdRatioBasedSampler reads from a trace id
 * (its four 32-bit words XORed): a root is sampled when that value is below it. 0: never;
 * 2^32: always.
 */
function rootBound(name: string, arg: number | undefined): number {
  switch (name) {
    case 'always_off':
    case 'parentbased_always_off':
      return 0;
    case 'traceidratio':
    case 'parentbased_traceidratio': {
      // As samplerFor builds the sampler (no argument: 1) and the SDK reads it (not a number: 0).
      const ratio = arg === undefined ? 1 : Number.isNaN(arg) ? 0 : Math.min(1, Math.max(0, arg));
      return ratio === 1 ? 2 ** 32 : Math.floor(ratio * 0xffffffff);
    }
    default:
      return 2 ** 32;
  }
}

/**
 * A root's trace id, or undefined when the root is not sampled. The value the ratio sampler
 * reads is drawn first, so that the roots left out (9 in 10 at the production setting) cost no id;
 * a sampled root gets three random words and a fourth that XORs to the drawn value: a uniformly
 * random id among those the sampler picks, so the SDK, asked about it, decides alike (a test
 * holds the two to the same decisions).
 */
function sampledRootTraceId(bound: number): string | undefined {
  const drawn = randomWord();
  if (!(drawn < bound)) return undefined;
  const a = randomWord();
  const b = randomWord();
  const c = randomWord();
  const d = (drawn ^ a ^ b ^ c) >>> 0;
  // All-zero is not a valid trace id (a 2^-128 chance): a new draw.
  if ((a | b | c | d) === 0) return sampledRootTraceId(bound);
  idBytes.writeUInt32BE(a, 0);
  idBytes.writeUInt32BE(b, 4);
  idBytes.writeUInt32BE(c, 8);
  idBytes.writeUInt32BE(d, 12);
  return idBytes.toString('hex');
}

/** The samplers that do not follow the parent's decision (the rest, the default included, do). */
const samplers = ['always_on', 'always_off', 'traceidratio'];

function samplerFor(name: string, arg: number | undefined): Sampler {
  const ratio = new TraceIdRatioBasedSampler(arg ?? 1);
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio;
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

function exporterFor(config: TracingConfig): SpanExporter {
  const options = { url: config.url, headers: { ...config.headers } };
  return config.protocol === 'http/json' ? new JsonExporter(options) : new ProtobufExporter(options);
}

/** Tells of every export that failed (a collector down or refusing): the SDK alone says nothing. */
function reportingFailures(exporter: SpanExporter, onError: (error: Error) => void): SpanExporter {
  return {
    export: (spans, done) =>
      exporter.export(spans, (result) => {
        if (result.code !== ExportResultCode.SUCCESS)
          onError(result.error ?? new Error('span export failed'));
        done(result);
      }),
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
  };
}

export interface TracingOptions {
  /** Where spans go instead of OTLP (tests). */
  exporter?: SpanExporter;
  /** Told when a batch of spans could not be exported. */
  onExportError?: (error: Error) => void;
  /** The longest a span waits for its batch (the SDK's 5 s by default; the bench's is longer). */
  scheduledDelayMillis?: number;
}

export function createTracing(config: TracingConfig, options: TracingOptions = {}): Tracing {
  const exporter = options.exporter ?? exporterFor(config);
  const sampler = samplerFor(config.sampler, config.samplerArg);
  const ids = new RandomIdGenerator();
  // The trace id a root was sampled on, for the SDK to give the span it records.
  let sampledTraceId: string | undefined;
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.serviceName }),
    sampler,
    idGenerator: {
      generateTraceId: () => sampledTraceId ?? ids.generateTraceId(),
      generateSpanId: () => ids.generateSpanId(),
    },
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: options.onExportError ? reportingFailures(exporter, options.onExportError) : exporter,
        ...(options.scheduledDelayMillis === undefined
          ? {}
          : { scheduledDelayMillis: options.scheduledDelayMillis }),
      }),
    ],
  });
  const propagator = new W3CTraceContextPropagator();
  const tracer = provider.getTracer('completions-subgraph');
  const parentBased = config.sampler.startsWith('parentbased_') || !samplers.includes(config.sampler);
  const bound = rootBound(config.sampler, config.samplerArg);
  return {
    tracer,
    startSpan(name, options, parent) {
      const parentSpan = trace.getSpan(parent);
      if (parentSpan === unsampledRoot) return unsampledRoot;
      const context = parentSpan?.spanContext();
      if (context !== undefined && isSpanContextValid(context)) {
        if (!parentBased || context.traceFlags & TraceFlags.SAMPLED)
          return tracer.startSpan(name, options, parent);
        return trace.wrapSpanContext({
          traceId: context.traceId,
          spanId: ids.generateSpanId(),
          traceFlags: context.traceFlags,
          ...(context.traceState === undefined ? {} : { traceState: context.traceState }),
        });
      }
      const traceId = bound >= 2 ** 32 ? ids.generateTraceId() : sampledRootTraceId(bound);
      if (traceId === undefined) return unsampledRoot;
      sampledTraceId = traceId;
      try {
        return tracer.startSpan(name, options, parent);
      } finally {
        sampledTraceId = undefined;
      }
    },
    withSpan: (parent, span) => (span === unsampledRoot ? unsampledContext : trace.setSpan(parent, span)),
    captureContent: config.captureContent,
    extract: (headers) =>
      headers.traceparent === undefined
        ? ROOT_CONTEXT
        : propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter),
    // What W3CTraceContextPropagator.inject writes, without a context built for it on every call.
    headersFor(span): Record<string, string> {
      const context = span.spanContext();
      if (!isSpanContextValid(context)) return {};
      const flags = context.traceFlags & TraceFlags.SAMPLED ? '01' : '00';
      const traceparent = `00-${context.traceId}-${context.spanId}-${flags}`;
      return context.traceState === undefined
        ? { traceparent }
        : { traceparent, tracestate: context.traceState.serialize() };
    },
    forceFlush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}
