import { SpanKind, SpanStatusCode, TraceFlags } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { type EndedSpan, ProtobufSpans } from '../../src/telemetry/otlp-encoding.js';
import { SpanExport } from '../../src/telemetry/span-export.js';
import { decodeTraces } from '../helpers/otlp-receiver.js';

/** Batching and its bound, with the transport stubbed at the edge: each send waits for the test. */

function span(name: string): EndedSpan {
  return {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: '00f067aa0ba902b7',
    parentSpanId: undefined,
    parentIsRemote: undefined,
    traceState: undefined,
    traceFlags: TraceFlags.SAMPLED,
    name,
    kind: SpanKind.SERVER,
    startMs: 1_764_590_400_000,
    endMs: 1_764_590_400_010,
    attributes: new Map(),
    droppedAttributes: 0,
    events: [],
    droppedEvents: 0,
    links: [],
    droppedLinks: 0,
    status: { code: SpanStatusCode.UNSET },
  };
}

function transport() {
  const sent: { names: string[]; answer: () => void }[] = [];
  return {
    sent,
    send: (body: Uint8Array) =>
      new Promise<void>((resolve) => {
        sent.push({
          names: decodeTraces(body, 'application/x-protobuf').map((s) => s.name),
          answer: resolve,
        });
      }),
    close: async () => {},
  };
}

const source = { resource: { 'service.name': 'batching-test' }, scope: 'test' };

describe('span export', () => {
  it('sends a full batch at once, and what waits when flushed', async () => {
    const stub = transport();
    const errors: Error[] = [];
    const exporter = new SpanExport(new ProtobufSpans(source), stub, {
      batchSize: 2,
      delayMs: 60_000,
      onExportError: (error) => errors.push(error),
    });
    for (const name of ['a', 'b', 'c']) exporter.add(span(name));
    expect(stub.sent.map((batch) => batch.names)).toEqual([['a', 'b']]);
    const flushed = exporter.forceFlush();
    expect(stub.sent.map((batch) => batch.names)).toEqual([['a', 'b'], ['c']]);
    for (const batch of stub.sent) batch.answer();
    await flushed;
    expect(errors).toEqual([]);
  });

  it('sends a batch early when its spans reach the byte bound (prompts on spans)', async () => {
    const stub = transport();
    const exporter = new SpanExport(new ProtobufSpans(source), stub, {
      batchSize: 512,
      delayMs: 60_000,
      maxBatchBytes: 1000,
      onExportError: undefined,
    });
    const heavy = (name: string): EndedSpan =>
      Object.assign(span(name), { attributes: new Map([['gen_ai.input.messages', 'p'.repeat(600)]]) });
    for (const name of ['a', 'b', 'c']) exporter.add(heavy(name));
    expect(stub.sent.map((batch) => batch.names)).toEqual([['a', 'b']]);
    const flushed = exporter.forceFlush();
    for (const batch of stub.sent) batch.answer();
    await flushed;
    expect(stub.sent.map((batch) => batch.names)).toEqual([['a', 'b'], ['c']]);
  });

  it('drops and reports a batch past the exports in flight, and nothing after shutdown', async () => {
    const stub = transport();
    const errors: Error[] = [];
    const exporter = new SpanExport(new ProtobufSpans(source), stub, {
      batchSize: 1,
      delayMs: 60_000,
      maxInFlight: 1,
      onExportError: (error) => errors.push(error),
    });
    exporter.add(span('held'));
    exporter.add(span('dropped'));
    expect(stub.sent.map((batch) => batch.names)).toEqual([['held']]);
    expect(errors.map((error) => error.message)).toEqual(['1 spans dropped: too many exports in flight']);
    stub.sent[0]?.answer();
    await exporter.shutdown();
    exporter.add(span('late'));
    await exporter.forceFlush();
    expect(stub.sent).toHaveLength(1);
  });
});
