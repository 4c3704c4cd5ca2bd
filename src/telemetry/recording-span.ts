import type {
  Attributes,
  AttributeValue,
  Exception,
  Link,
  Span,
  SpanContext,
  SpanKind,
  SpanStatus,
  TimeInput,
} from '@opentelemetry/api';
import { SpanStatusCode } from '@opentelemetry/api';
import type { EndedSpan, SpanEventRecord, SpanLinkRecord } from './otlp-encoding.js';

/**
 * A span that is recorded: what the API's Span sets, kept until `end()` hands it to be encoded
 * (see otlp-encoding.ts for why it is not the SDK's). The SDK's limits hold, from the same
 * variables (OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT and the rest, read by the configuration): attributes,
 * events and links past their count dropped and counted, text cut to the value length limit;
 * values that are not attribute values are ignored, and nothing changes once ended.
 */

export interface SpanLimits {
  readonly attributeCount: number;
  /** Longest text value (in UTF-16 units, as the SDK cuts it); Infinity: no limit. */
  readonly attributeValueLength: number;
  readonly eventCount: number;
  readonly linkCount: number;
}

export const defaultSpanLimits: SpanLimits = {
  attributeCount: 128,
  attributeValueLength: Number.POSITIVE_INFINITY,
  eventCount: 128,
  linkCount: 128,
};

/** An event's or a link's own attributes: the SDK's default count. */
const PER_ITEM_ATTRIBUTES = 128;

export interface SpanIdentity {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
  readonly traceState: SpanContext['traceState'];
  readonly parent: SpanContext | undefined;
}

function isPrimitive(value: unknown): boolean {
  const type = typeof value;
  return type === 'string' || type === 'number' || type === 'boolean';
}

/** As the SDK's isAttributeValue: a primitive, or an array of one primitive type (nulls allowed). */
function isAttributeValue(value: unknown): value is AttributeValue {
  if (value == null) return false;
  if (!Array.isArray(value)) return isPrimitive(value);
  let type: string | undefined;
  for (const item of value) {
    if (item == null) continue;
    if (!isPrimitive(item) || (type !== undefined && typeof item !== type)) return false;
    type = typeof item;
  }
  return true;
}

/** Epoch milliseconds of an API time (ms number, [s, ns] pair, or Date). */
function toMs(time: TimeInput): number {
  if (typeof time === 'number') return time;
  if (time instanceof Date) return time.getTime();
  return time[0] * 1000 + time[1] / 1e6;
}

/** A value as it is kept: text cut to `length`, an array copied (the caller may change its own). */
function truncated(value: AttributeValue, length: number): AttributeValue {
  if (typeof value === 'string') return value.length > length ? value.slice(0, length) : value;
  if (!Array.isArray(value)) return value;
  return value.map((item: unknown) =>
    typeof item === 'string' && item.length > length ? item.slice(0, length) : item,
  ) as AttributeValue;
}

/** An event's or a link's attributes, within the limits: `[kept, dropped]`. */
function limited(
  attributes: Attributes | undefined,
  length: number,
): [Map<string, AttributeValue> | undefined, number] {
  if (attributes === undefined) return [undefined, 0];
  const kept = new Map<string, AttributeValue>();
  let dropped = 0;
  for (const key of Object.keys(attributes)) {
    const value = attributes[key];
    if (!isAttributeValue(value)) continue;
    if (kept.size < PER_ITEM_ATTRIBUTES) kept.set(key, truncated(value, length));
    else dropped++;
  }
  return [kept, dropped];
}

export class RecordingSpan implements Span, EndedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
  readonly parentSpanId: string | undefined;
  readonly parentIsRemote: boolean | undefined;
  readonly attributes = new Map<string, AttributeValue>();
  droppedAttributes = 0;
  readonly events: SpanEventRecord[] = [];
  droppedEvents = 0;
  readonly links: SpanLinkRecord[] = [];
  droppedLinks = 0;
  status: SpanStatus = { code: SpanStatusCode.UNSET };
  readonly startMs: number;
  endMs = 0;
  private readonly startedAt: number;
  private ended = false;

  constructor(
    private readonly identity: SpanIdentity,
    public name: string,
    readonly kind: SpanKind,
    private readonly limits: SpanLimits,
    private readonly onEnd: (span: RecordingSpan) => void,
  ) {
    this.traceId = identity.traceId;
    this.spanId = identity.spanId;
    this.traceFlags = identity.traceFlags;
    this.parentSpanId = identity.parent?.spanId;
    this.parentIsRemote = identity.parent?.isRemote;
    // The wall clock for the start, the monotonic one for what follows (as the SDK times a span).
    this.startMs = Date.now();
    this.startedAt = performance.now();
  }

  get traceState(): string | undefined {
    return this.identity.traceState?.serialize();
  }

  private now(): number {
    return this.startMs + (performance.now() - this.startedAt);
  }

  spanContext(): SpanContext {
    const { traceId, spanId, traceFlags, traceState } = this.identity;
    return traceState === undefined
      ? { traceId, spanId, traceFlags }
      : { traceId, spanId, traceFlags, traceState };
  }

  setAttribute(key: string, value: AttributeValue): this {
    if (this.ended || key.length === 0 || !isAttributeValue(value)) return this;
    if (this.attributes.size >= this.limits.attributeCount && !this.attributes.has(key)) {
      this.droppedAttributes++;
    } else this.attributes.set(key, truncated(value, this.limits.attributeValueLength));
    return this;
  }

  setAttributes(attributes: Attributes): this {
    for (const key of Object.keys(attributes)) this.setAttribute(key, attributes[key] as AttributeValue);
    return this;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.ended) return this;
    if (this.events.length >= this.limits.eventCount) {
      this.droppedEvents++;
      return this;
    }
    const timeGiven =
      typeof attributesOrTime === 'number' ||
      attributesOrTime instanceof Date ||
      Array.isArray(attributesOrTime);
    const [attributes, droppedAttributes] = limited(
      timeGiven ? undefined : (attributesOrTime as Attributes),
      this.limits.attributeValueLength,
    );
    const at = time ?? (timeGiven ? (attributesOrTime as TimeInput) : undefined);
    this.events.push({
      name,
      timeMs: at === undefined ? this.now() : toMs(at),
      attributes,
      droppedAttributes,
    });
    return this;
  }

  addLink(link: Link): this {
    if (this.ended) return this;
    if (this.links.length >= this.limits.linkCount) {
      this.droppedLinks++;
      return this;
    }
    const [attributes, droppedAttributes] = limited(link.attributes, this.limits.attributeValueLength);
    this.links.push({
      traceId: link.context.traceId,
      spanId: link.context.spanId,
      traceState: link.context.traceState?.serialize(),
      traceFlags: link.context.traceFlags,
      isRemote: link.context.isRemote,
      attributes,
      droppedAttributes,
    });
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  setStatus(status: SpanStatus): this {
    // As the SDK: OK is final, and UNSET changes nothing.
    if (this.ended || status.code === SpanStatusCode.UNSET || this.status.code === SpanStatusCode.OK)
      return this;
    this.status =
      status.code === SpanStatusCode.ERROR && typeof status.message === 'string'
        ? { code: status.code, message: status.message }
        : { code: status.code };
    return this;
  }

  updateName(name: string): this {
    if (!this.ended) this.name = name;
    return this;
  }

  end(endTime?: TimeInput): void {
    if (this.ended) return;
    this.ended = true;
    this.endMs = endTime === undefined ? this.now() : Math.max(toMs(endTime), this.startMs);
    this.onEnd(this);
  }

  isRecording(): boolean {
    return !this.ended;
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === 'string') attributes['exception.message'] = exception;
    else {
      const name = exception.name ?? (exception.code === undefined ? undefined : String(exception.code));
      if (name !== undefined) attributes['exception.type'] = name;
      if (exception.message !== undefined) attributes['exception.message'] = exception.message;
      if (exception.stack !== undefined) attributes['exception.stacktrace'] = exception.stack;
    }
    this.addEvent('exception', attributes, time);
  }
}
