import {
  createTraceState,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
} from '@opentelemetry/api';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import {
  type EndedSpan,
  JsonSpans,
  ProtobufSpans,
  type SpanAttributes,
  type SpanEncoding,
} from '../../src/telemetry/otlp-encoding.js';
import { defaultSpanLimits, RecordingSpan } from '../../src/telemetry/recording-span.js';
import { decodeTraces, type OtlpSpan } from '../helpers/otlp-receiver.js';

/**
 * Spans are encoded here, not by the SDK (see otlp-encoding.ts): the same spans, encoded by the
 * OpenTelemetry SDK's own serializers and by ours, must decode to the same OTLP spans, in both
 * protobuf and JSON.
 */

const source = { resource: { 'service.name': 'encoding-test' }, scope: 'completions-subgraph' };
const startMs = 1_764_590_400_123;
const toMs = ([seconds, nanos]: [number, number]) => seconds * 1000 + nanos / 1e6;
const attributesOf = (attributes: Record<string, unknown> | undefined): SpanAttributes | undefined =>
  attributes === undefined ? undefined : (new Map(Object.entries(attributes)) as SpanAttributes);

/** Spans as the SDK records them: every kind of attribute value, an event, a link, both statuses. */
function sdkSpans(): ReadableSpan[] {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const tracer = provider.getTracer('test');
  const remote = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: '00f067aa0ba902b7',
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
    traceState: createTraceState('vendor=a,other=b'),
  });
  const server = tracer.startSpan(
    'mutation Hello',
    {
      kind: SpanKind.SERVER,
      startTime: startMs,
      attributes: {
        'graphql.operation.type': 'mutation',
        empty: '',
        unicode: 'café ✓ — 日本',
        long: 'x'.repeat(300),
        integer: 42,
        zero: 0,
        negative: -7,
        big: 2 ** 40 + 3,
        double: 0.25,
        yes: true,
        no: false,
        strings: ['stop', 'length'],
        numbers: [1, 2.5],
        flags: [true, false],
      },
      links: [
        {
          context: {
            traceId: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
            spanId: 'bbbbbbbbbbbbbbbb',
            traceFlags: TraceFlags.NONE,
            traceState: createTraceState('k=v'),
          },
          attributes: { reason: 'batched' },
        },
      ],
    },
    remote,
  );
  server.addEvent('retry', { 'http.response.status_code': '503' }, startMs + 12.5);
  server.setStatus({ code: SpanStatusCode.ERROR, message: 'UPSTREAM_UNAVAILABLE' });
  const client = tracer.startSpan(
    'text_completion gpt-3.5-turbo-instruct',
    { kind: SpanKind.CLIENT, startTime: startMs + 1 },
    trace.setSpan(ROOT_CONTEXT, server),
  );
  client.setAttribute('gen_ai.usage.input_tokens', 12);
  (client as Span).end(startMs + 333.5);
  server.end(startMs + 456.5);
  return exporter.getFinishedSpans();
}

/** What our encoder is given for the same span. */
function ended(span: ReadableSpan): EndedSpan {
  const context = span.spanContext();
  return {
    traceId: context.traceId,
    spanId: context.spanId,
    parentSpanId: span.parentSpanContext?.spanId,
    parentIsRemote: span.parentSpanContext?.isRemote,
    traceState: context.traceState?.serialize(),
    traceFlags: context.traceFlags,
    name: span.name,
    kind: span.kind,
    startMs: toMs(span.startTime),
    endMs: toMs(span.endTime),
    attributes: attributesOf(span.attributes) as SpanAttributes,
    droppedAttributes: span.droppedAttributesCount,
    events: span.events.map((event) => ({
      name: event.name,
      timeMs: toMs(event.time),
      attributes: attributesOf(event.attributes),
      droppedAttributes: event.droppedAttributesCount ?? 0,
    })),
    droppedEvents: span.droppedEventsCount,
    links: span.links.map((link) => ({
      traceId: link.context.traceId,
      spanId: link.context.spanId,
      traceState: link.context.traceState?.serialize(),
      traceFlags: link.context.traceFlags,
      isRemote: link.context.isRemote,
      attributes: attributesOf(link.attributes),
      droppedAttributes: link.droppedAttributesCount ?? 0,
    })),
    droppedLinks: span.droppedLinksCount,
    status: span.status,
  };
}

/** A decoded span without the fields that read the same absent or at their default. */
function canonical(span: OtlpSpan): OtlpSpan {
  const copy: Record<string, unknown> = { ...span };
  for (const key of ['droppedAttributesCount', 'droppedEventsCount', 'droppedLinksCount', 'traceState'])
    if (!copy[key]) delete copy[key];
  if (span.status !== undefined && !span.status.code && !span.status.message) delete copy.status;
  copy.events = (span.events ?? []).map((event) =>
    Object.fromEntries(
      Object.entries(event).filter(([key, value]) => key !== 'droppedAttributesCount' || value),
    ),
  );
  copy.links = (span.links ?? []).map((link) =>
    Object.fromEntries(Object.entries(link).filter(([key, value]) => key !== 'traceState' || value)),
  );
  // JSON may spell 64-bit integers as numbers or strings.
  return JSON.parse(
    JSON.stringify(copy, (_, value) => (typeof value === 'number' ? value : value)),
  ) as OtlpSpan;
}

function encoded(encoding: SpanEncoding, spans: readonly EndedSpan[]): OtlpSpan[] {
  for (const span of spans) encoding.add(span);
  expect(encoding.count).toBe(spans.length);
  const body = encoding.take();
  expect(encoding.count).toBe(0);
  return decodeTraces(body, encoding.contentType).map(canonical);
}

describe('OTLP encoding', () => {
  const spans = sdkSpans();

  it('writes protobuf that decodes as the SDK’s does', () => {
    const theirs = decodeTraces(
      ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array,
      'application/x-protobuf',
    ).map(canonical);
    expect(theirs).toHaveLength(2);
    expect(encoded(new ProtobufSpans(source), spans.map(ended))).toEqual(theirs);
  });

  it('writes OTLP/JSON that reads as the SDK’s does', () => {
    const theirs = decodeTraces(
      JsonTraceSerializer.serializeRequest(spans) as Uint8Array,
      'application/json',
    ).map(canonical);
    expect(theirs).toHaveLength(2);
    expect(encoded(new JsonSpans(source), spans.map(ended))).toEqual(theirs);
  });

  it('starts each batch afresh, and carries the resource and scope', () => {
    const encoding = new ProtobufSpans(source);
    encoded(encoding, spans.map(ended));
    const [server] = spans.map(ended);
    encoding.add(server as EndedSpan);
    const body = Buffer.from(encoding.take());
    expect(decodeTraces(body, encoding.contentType)).toHaveLength(1);
    expect(body.toString('latin1')).toContain('encoding-test');
    expect(body.toString('latin1')).toContain('completions-subgraph');
  });
});

describe('a recording span', () => {
  const identity = {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: '00f067aa0ba902b7',
    traceFlags: TraceFlags.SAMPLED,
    traceState: undefined,
    parent: undefined,
  };

  it('keeps attribute values only, at most 128, and nothing after it ended', () => {
    const done: RecordingSpan[] = [];
    const span = new RecordingSpan(identity, 'q', SpanKind.SERVER, defaultSpanLimits, (s) => done.push(s));
    span.setAttribute('object', { not: 'a value' } as never);
    span.setAttribute('mixed', ['a', 1] as never);
    span.setAttribute('', 'no key');
    span.setAttribute('list', ['a', null as never, 'b']);
    for (let i = 0; i < 130; i++) span.setAttribute(`k${i}`, i);
    span.setAttribute('list', ['replaced']);
    expect(span.attributes.size).toBe(128);
    expect(span.droppedAttributes).toBe(3);
    expect(span.attributes.get('list')).toEqual(['replaced']);
    expect(span.attributes.has('object')).toBe(false);
    span.setStatus({ code: SpanStatusCode.OK });
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'late' });
    expect(span.status).toEqual({ code: SpanStatusCode.OK });
    expect(span.isRecording()).toBe(true);
    span.end();
    span.end();
    span.setAttribute('after', 1).addEvent('after').updateName('renamed');
    expect(done).toEqual([span]);
    expect(span.isRecording()).toBe(false);
    expect(span.name).toBe('q');
    expect(span.events).toEqual([]);
    expect(span.endMs).toBeGreaterThanOrEqual(span.startMs);
  });

  it('cuts text to the configured length and keeps the configured counts', () => {
    const limits = { attributeCount: 2, attributeValueLength: 4, eventCount: 1, linkCount: 0 };
    const span = new RecordingSpan(identity, 'q', SpanKind.SERVER, limits, () => {});
    span.setAttribute('prompt', 'the secret launch date');
    span.setAttribute('stops', ['stop here', 'end']);
    span.setAttribute('third', 3);
    span.addEvent('first', { text: 'longer than four' }).addEvent('second');
    span.addLink({ context: identity });
    expect([...span.attributes]).toEqual([
      ['prompt', 'the '],
      ['stops', ['stop', 'end']],
    ]);
    expect(span.droppedAttributes).toBe(1);
    expect(span.events.map((event) => [event.name, event.attributes?.get('text')])).toEqual([
      ['first', 'long'],
    ]);
    expect([span.droppedEvents, span.links.length, span.droppedLinks]).toEqual([1, 0, 1]);
  });

  it('records an exception as the semantic conventions name it', () => {
    const span = new RecordingSpan(identity, 'q', SpanKind.INTERNAL, defaultSpanLimits, () => {});
    span.recordException(new TypeError('bad input'));
    const [event] = span.events;
    expect(event?.name).toBe('exception');
    expect(event?.attributes?.get('exception.type')).toBe('TypeError');
    expect(event?.attributes?.get('exception.message')).toBe('bad input');
  });
});
