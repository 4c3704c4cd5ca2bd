import type { IncomingHttpHeaders } from 'node:http';
import {
  type Context,
  defaultTextMapGetter,
  INVALID_SPAN_CONTEXT,
  isSpanContextValid,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  type SpanOptions,
  TraceFlags,
  trace,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { JsonSpans, ProtobufSpans, type SpanSource } from './otlp-encoding.js';
import { OtlpTransport } from './otlp-transport.js';
import { defaultSpanLimits, RecordingSpan, type SpanLimits } from './recording-span.js';
import { SpanExport } from './span-export.js';

/**
 * Traces over OTLP/HTTP, off unless an endpoint is configured. No global tracer or context
 * manager: an AsyncLocalStorage context costs every request (promise hooks), so spans are parented
 * explicitly — the operation's span travels in the GraphQL context, the call's in its options.
 * Spans are the API's; sampling, recording, encoding and sending are done here (otlp-encoding.ts
 * and otlp-transport.ts say why not by the SDK).
 */

export interface TracingConfig {
  /** The OTLP/HTTP traces URL (…/v1/traces). */
  url: string;
  /** `http/protobuf` (the default: smaller, and cheaper to encode) or `http/json`. */
  protocol?: 'http/protobuf' | 'http/json';
  headers: Readonly<Record<string, string>>;
  serviceName: string;
  /** More resource attributes (OTEL_RESOURCE_ATTRIBUTES); `service.name` is serviceName's. */
  resourceAttributes?: Readonly<Record<string, string>>;
  /** `always_on`, `always_off`, `traceidratio`, or their `parentbased_` forms (OTEL_TRACES_SAMPLER). */
  sampler: string;
  samplerArg: number | undefined;
  /** Prompt and completion text on spans: off unless asked for. */
  captureContent: boolean;
  /** Spans sent together (OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 512). */
  batchSize?: number;
  /** The longest an ended span waits for its batch (OTEL_BSP_SCHEDULE_DELAY, 5,000 ms). */
  batchDelayMs?: number;
  /** The longest one export may take, retries included (OTEL_EXPORTER_OTLP_TIMEOUT, 10,000 ms). */
  timeoutMs?: number;
  /** OTEL_EXPORTER_OTLP_COMPRESSION. */
  compression?: 'gzip' | 'none';
  /** PEM text: OTEL_EXPORTER_OTLP_CERTIFICATE, _CLIENT_CERTIFICATE and _CLIENT_KEY's files. */
  tls?: { ca?: string; cert?: string; key?: string };
  /** OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT and the rest; the SDK's defaults otherwise. */
  limits?: Partial<SpanLimits>;
}

export interface Tracing {
  readonly captureContent: boolean;
  /**
   * A span under `parent` (or a root), sampled as the configured sampler samples. One that will
   * not be recorded (9 operations in 10 at the production setting) costs next to nothing: a root
   * left out is nothing at all (unsampledRoot); under a caller's parent that was not sampled, a
   * parent-based sampler never samples, and the caller's trace is passed on.
   */
  startSpan(name: string, options: Pick<SpanOptions, 'kind' | 'attributes'>, parent: Context): Span;
  /** `parent` with `span` as the current span: the context the spans under it are started in. */
  withSpan(parent: Context, span: Span): Context;
  /** The caller's trace (W3C `traceparent`), or a new root. */
  extract(headers: IncomingHttpHeaders): Context;
  /** The headers that continue `span`'s trace at the upstream. */
  headersFor(span: Span): Readonly<Record<string, string>>;
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
/** What a trace nobody records adds to the upstream's headers: nothing, and no object made for it. */
const noHeaders: Readonly<Record<string, string>> = Object.freeze({});

const randomWord = () => (Math.random() * 2 ** 32) >>> 0;
/** Two hexadecimal digits per byte value: ids are written here, not by Buffer's native hex encoder. */
const hexByte = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));
const hexWord = (word: number) =>
  `${hexByte[word >>> 24]}${hexByte[(word >>> 16) & 255]}${hexByte[(word >>> 8) & 255]}${hexByte[word & 255]}`;

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
      // As the SDK's samplers are built from the variables (no argument: 1; not a number: 0).
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
 * random id among those the sampler picks, so the SDK's TraceIdRatioBasedSampler, asked about it,
 * decides alike (a test holds the two to the same decisions).
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
  return `${hexWord(a)}${hexWord(b)}${hexWord(c)}${hexWord(d)}`;
}

/** What TraceIdRatioBasedSampler compares with its bound: the trace id's four 32-bit words XORed. */
function ratioValue(traceId: string): number {
  let value = 0;
  for (let at = 0; at < 32; at += 8) value = (value ^ Number.parseInt(traceId.slice(at, at + 8), 16)) >>> 0;
  return value;
}

function newSpanId(): string {
  let a = 0;
  let b = 0;
  while ((a | b) === 0) {
    a = randomWord();
    b = randomWord();
  }
  return `${hexWord(a)}${hexWord(b)}`;
}

/** The samplers that do not follow the parent's decision (the rest, the default included, do). */
const ownDecision = ['always_on', 'always_off', 'traceidratio'];

export interface TracingOptions {
  /** Told when a batch of spans could not be exported (a collector down or refusing). */
  onExportError?: (error: Error) => void;
  /** The longest a span waits for its batch, over the configuration's (the bench's is longer). */
  scheduledDelayMillis?: number;
}

export function createTracing(config: TracingConfig, options: TracingOptions = {}): Tracing {
  const source: SpanSource = {
    resource: Object.assign({}, config.resourceAttributes, {
      'service.name': config.serviceName,
      'telemetry.sdk.language': 'nodejs',
      'telemetry.sdk.name': 'completions-subgraph',
    }),
    scope: 'completions-subgraph',
  };
  const encoding = config.protocol === 'http/json' ? new JsonSpans(source) : new ProtobufSpans(source);
  const transport = new OtlpTransport({
    url: config.url,
    headers: config.headers,
    contentType: encoding.contentType,
    timeoutMs: config.timeoutMs ?? 10_000,
    compression: config.compression ?? 'none',
    ...(config.tls === undefined ? {} : { tls: config.tls }),
  });
  const exporter = new SpanExport(encoding, transport, {
    batchSize: config.batchSize ?? 512,
    delayMs: options.scheduledDelayMillis ?? config.batchDelayMs ?? 5_000,
    onExportError: options.onExportError,
  });
  const onEnd = (span: RecordingSpan) => exporter.add(span);
  const limits: SpanLimits = Object.assign({}, defaultSpanLimits, config.limits);
  const propagator = new W3CTraceContextPropagator();
  const parentBased = !ownDecision.includes(config.sampler);
  const bound = rootBound(config.sampler, config.samplerArg);

  /** Whether a span under a valid parent is recorded. */
  function sampledUnder(parent: SpanContext): boolean {
    if (parentBased) return (parent.traceFlags & TraceFlags.SAMPLED) !== 0;
    return bound >= 2 ** 32 || ratioValue(parent.traceId) < bound;
  }

  function recording(
    name: string,
    { kind, attributes }: Pick<SpanOptions, 'kind' | 'attributes'>,
    traceId: string,
    parent?: SpanContext,
  ): Span {
    const identity = {
      traceId,
      spanId: newSpanId(),
      traceFlags: TraceFlags.SAMPLED,
      traceState: parent?.traceState,
      parent,
    };
    const span = new RecordingSpan(identity, name, kind ?? SpanKind.INTERNAL, limits, onEnd);
    return attributes === undefined ? span : span.setAttributes(attributes);
  }

  return {
    startSpan(name, spanOptions, parent) {
      // The two parents of most operations, known without a lookup: no caller's trace, and a root
      // left out.
      if (parent === unsampledContext) return unsampledRoot;
      const parentSpan = parent === ROOT_CONTEXT ? undefined : trace.getSpan(parent);
      if (parentSpan === unsampledRoot) return unsampledRoot;
      const context = parentSpan?.spanContext();
      // A span recorded here has valid ids: no need to check them again.
      if (context !== undefined && (parentSpan instanceof RecordingSpan || isSpanContextValid(context))) {
        if (sampledUnder(context)) return recording(name, spanOptions, context.traceId, context);
        // Not recorded: the caller's trace goes on, under a span id of this hop.
        return trace.wrapSpanContext({
          traceId: context.traceId,
          spanId: newSpanId(),
          traceFlags: TraceFlags.NONE,
          ...(context.traceState === undefined ? {} : { traceState: context.traceState }),
        });
      }
      const traceId = sampledRootTraceId(bound);
      return traceId === undefined ? unsampledRoot : recording(name, spanOptions, traceId);
    },
    withSpan: (parent, span) => (span === unsampledRoot ? unsampledContext : trace.setSpan(parent, span)),
    captureContent: config.captureContent,
    extract: (headers) =>
      headers.traceparent === undefined
        ? ROOT_CONTEXT
        : propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter),
    // What W3CTraceContextPropagator.inject writes, without a context built for it on every call.
    headersFor(span): Readonly<Record<string, string>> {
      if (span === unsampledRoot) return noHeaders;
      if (span instanceof RecordingSpan) {
        const traceparent = `00-${span.traceId}-${span.spanId}-01`;
        const tracestate = span.traceState;
        return tracestate === undefined ? { traceparent } : { traceparent, tracestate };
      }
      const context = span.spanContext();
      if (!isSpanContextValid(context)) return noHeaders;
      const flags = context.traceFlags & TraceFlags.SAMPLED ? '01' : '00';
      const traceparent = `00-${context.traceId}-${context.spanId}-${flags}`;
      return context.traceState === undefined
        ? { traceparent }
        : { traceparent, tracestate: context.traceState.serialize() };
    },
    forceFlush: () => exporter.forceFlush(),
    shutdown: () => exporter.shutdown(),
  };
}
