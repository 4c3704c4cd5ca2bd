import { type AttributeValue, type SpanKind, type SpanStatus, SpanStatusCode } from '@opentelemetry/api';
import { ProtoWriter } from './proto-writer.js';

/**
 * A span is encoded in OTLP's wire format when it ends, into its batch's buffer (protobuf) or
 * text (JSON), so that nothing of it outlives its request: the SDK keeps every span object until
 * its batch of 512 is exported, and those objects, promoted out of the young generation, were
 * half of what tracing cost (see the README's Libraries). Field numbers are those of
 * opentelemetry-proto's trace/v1, common/v1 and resource/v1 messages; the JSON is OTLP/JSON (hex
 * ids, integer enums, times as strings). A test holds both to what the SDK's serializers write.
 */

export type SpanAttributes = ReadonlyMap<string, AttributeValue>;

export interface SpanEventRecord {
  readonly name: string;
  readonly timeMs: number;
  readonly attributes: SpanAttributes | undefined;
  readonly droppedAttributes: number;
}

export interface SpanLinkRecord {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceState: string | undefined;
  readonly traceFlags: number;
  readonly isRemote: boolean | undefined;
  readonly attributes: SpanAttributes | undefined;
  readonly droppedAttributes: number;
}

/** What the encoder reads of a span that ended. Times are milliseconds since the Unix epoch. */
export interface EndedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly parentIsRemote: boolean | undefined;
  readonly traceState: string | undefined;
  readonly traceFlags: number;
  readonly name: string;
  readonly kind: SpanKind;
  readonly startMs: number;
  readonly endMs: number;
  readonly attributes: SpanAttributes;
  readonly droppedAttributes: number;
  readonly events: readonly SpanEventRecord[];
  readonly droppedEvents: number;
  readonly links: readonly SpanLinkRecord[];
  readonly droppedLinks: number;
  readonly status: SpanStatus;
}

/** Who sent the spans: the resource's attributes and the instrumentation scope's name. */
export interface SpanSource {
  readonly resource: Readonly<Record<string, string>>;
  readonly scope: string;
}

/** The spans of one batch, encoded as they end. */
export interface SpanEncoding {
  readonly contentType: string;
  /** Spans added since the last take. */
  readonly count: number;
  /** About how many bytes they take, encoded. */
  readonly bytes: number;
  add(span: EndedSpan): void;
  /** An ExportTraceServiceRequest of the spans added since the last take; the batch starts again. */
  take(): Uint8Array;
}

// The span's W3C flags, and whether its parent was remote (OTLP's SPAN_FLAGS_CONTEXT_* bits).
const flags = (traceFlags: number, parentIsRemote: boolean | undefined) =>
  (traceFlags & 0xff) | 0x100 | (parentIsRemote ? 0x200 : 0);

function nanos(ms: number): bigint {
  const whole = Math.floor(ms);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6));
}

// --- protobuf ---

function writeValue(w: ProtoWriter, field: number, value: AttributeValue | null | undefined): void {
  const at = w.open(field);
  if (typeof value === 'string') w.string(1, value);
  else if (typeof value === 'boolean') w.bool(2, value);
  else if (typeof value === 'number') {
    if (Number.isInteger(value)) w.int(3, value);
    else w.double(4, value);
  } else if (Array.isArray(value)) {
    const array = w.open(5);
    for (const item of value as readonly (AttributeValue | null | undefined)[]) writeValue(w, 1, item);
    w.close(array);
  }
  w.close(at);
}

function writeAttributes(w: ProtoWriter, field: number, attributes: SpanAttributes | undefined): void {
  // forEach, not for…of: no [key, value] array per attribute.
  attributes?.forEach((value, key) => {
    const at = w.open(field);
    w.string(1, key);
    writeValue(w, 2, value);
    w.close(at);
  });
}

function writeSpan(w: ProtoWriter, span: EndedSpan): void {
  const at = w.open(2); // ScopeSpans.spans
  w.hex(1, span.traceId);
  w.hex(2, span.spanId);
  if (span.traceState) w.string(3, span.traceState);
  if (span.parentSpanId !== undefined) w.hex(4, span.parentSpanId);
  w.string(5, span.name);
  w.uint(6, span.kind + 1);
  w.nanos(7, span.startMs);
  w.nanos(8, span.endMs);
  writeAttributes(w, 9, span.attributes);
  if (span.droppedAttributes > 0) w.uint(10, span.droppedAttributes);
  for (const event of span.events) {
    const e = w.open(11);
    w.nanos(1, event.timeMs);
    w.string(2, event.name);
    writeAttributes(w, 3, event.attributes);
    if (event.droppedAttributes > 0) w.uint(4, event.droppedAttributes);
    w.close(e);
  }
  if (span.droppedEvents > 0) w.uint(12, span.droppedEvents);
  for (const link of span.links) {
    const l = w.open(13);
    w.hex(1, link.traceId);
    w.hex(2, link.spanId);
    if (link.traceState) w.string(3, link.traceState);
    writeAttributes(w, 4, link.attributes);
    if (link.droppedAttributes > 0) w.uint(5, link.droppedAttributes);
    w.fixed32(6, flags(link.traceFlags, link.isRemote));
    w.close(l);
  }
  if (span.droppedLinks > 0) w.uint(14, span.droppedLinks);
  const { code, message } = span.status;
  if (code !== SpanStatusCode.UNSET || message) {
    const s = w.open(15);
    if (message) w.string(2, message);
    if (code !== SpanStatusCode.UNSET) w.uint(3, code);
    w.close(s);
  }
  w.fixed32(16, flags(span.traceFlags, span.parentIsRemote));
  w.close(at);
}

export class ProtobufSpans implements SpanEncoding {
  readonly contentType = 'application/x-protobuf';
  count = 0;
  private spans = new ProtoWriter();
  private readonly resource: SpanAttributes;

  constructor(private readonly source: SpanSource) {
    this.resource = new Map(Object.entries(source.resource));
  }

  get bytes(): number {
    return this.spans.length;
  }

  add(span: EndedSpan): void {
    writeSpan(this.spans, span);
    this.count++;
  }

  take(): Uint8Array {
    const spans = this.spans.take();
    this.count = 0;
    // A batch grown past its bound by one huge span (a captured prompt) does not keep its buffer.
    if (spans.length > 8 * 1024 * 1024) this.spans = new ProtoWriter();
    const w = new ProtoWriter(spans.length + 512);
    const resourceSpans = w.open(1);
    const resource = w.open(1);
    writeAttributes(w, 1, this.resource);
    w.close(resource);
    const scopeSpans = w.open(2);
    const scope = w.open(1);
    w.string(1, this.source.scope);
    w.close(scope);
    w.raw(spans);
    w.close(scopeSpans);
    w.close(resourceSpans);
    return w.take();
  }
}

// --- JSON ---

type JsonValue = Record<string, unknown>;

function jsonValue(value: AttributeValue | null | undefined): JsonValue {
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'number') {
    // A number as the SDK writes it; past 2^53, the string proto3's JSON allows for an int64.
    if (Number.isInteger(value)) return { intValue: Number.isSafeInteger(value) ? value : String(value) };
    // proto3's JSON spells the doubles JSON has no number for.
    return { doubleValue: Number.isFinite(value) ? value : String(value) };
  }
  if (Array.isArray(value)) {
    return { arrayValue: { values: (value as readonly (AttributeValue | null)[]).map(jsonValue) } };
  }
  return {};
}

function jsonAttributes(attributes: SpanAttributes | undefined): JsonValue[] {
  return attributes === undefined
    ? []
    : Array.from(attributes, ([key, value]) => ({ key, value: jsonValue(value) }));
}

function jsonSpan(span: EndedSpan): JsonValue {
  const { code, message } = span.status;
  return {
    traceId: span.traceId,
    spanId: span.spanId,
    ...(span.traceState ? { traceState: span.traceState } : {}),
    ...(span.parentSpanId === undefined ? {} : { parentSpanId: span.parentSpanId }),
    flags: flags(span.traceFlags, span.parentIsRemote),
    name: span.name,
    kind: span.kind + 1,
    startTimeUnixNano: String(nanos(span.startMs)),
    endTimeUnixNano: String(nanos(span.endMs)),
    attributes: jsonAttributes(span.attributes),
    droppedAttributesCount: span.droppedAttributes,
    events: span.events.map((event) => ({
      timeUnixNano: String(nanos(event.timeMs)),
      name: event.name,
      attributes: jsonAttributes(event.attributes),
      droppedAttributesCount: event.droppedAttributes,
    })),
    droppedEventsCount: span.droppedEvents,
    links: span.links.map((link) => ({
      traceId: link.traceId,
      spanId: link.spanId,
      ...(link.traceState ? { traceState: link.traceState } : {}),
      attributes: jsonAttributes(link.attributes),
      droppedAttributesCount: link.droppedAttributes,
      flags: flags(link.traceFlags, link.isRemote),
    })),
    droppedLinksCount: span.droppedLinks,
    status: { code, ...(message ? { message } : {}) },
  };
}

export class JsonSpans implements SpanEncoding {
  readonly contentType = 'application/json';
  private spans: string[] = [];
  bytes = 0;
  private readonly head: string;

  constructor(source: SpanSource) {
    const resource = { attributes: jsonAttributes(new Map(Object.entries(source.resource))) };
    // The request up to its list of spans: `{…"spans":[]}]}` without its last four characters.
    this.head = JSON.stringify({
      resource,
      scopeSpans: [{ scope: { name: source.scope }, spans: [] }],
    }).slice(0, -4);
  }

  get count(): number {
    return this.spans.length;
  }

  add(span: EndedSpan): void {
    const text = JSON.stringify(jsonSpan(span));
    this.spans.push(text);
    this.bytes += text.length;
  }

  take(): Uint8Array {
    const spans = this.spans;
    this.spans = [];
    this.bytes = 0;
    const body = `{"resourceSpans":[${this.head}${spans.join(',')}]}]}]}`;
    return Buffer.from(body);
  }
}
