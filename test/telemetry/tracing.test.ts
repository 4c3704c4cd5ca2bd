import { readFileSync } from 'node:fs';
import { isSpanContextValid, ROOT_CONTEXT, SamplingDecision, type Span, trace } from '@opentelemetry/api';
import { TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTracing, type Tracing, type TracingConfig } from '../../src/telemetry/tracing.js';
import { sseClient } from '../helpers/clients.js';
import { completionStream } from '../helpers/operations.js';
import { type OtlpSpan, type Receiver, startOtlpReceiver } from '../helpers/otlp-receiver.js';
import { reply } from '../helpers/stub-upstream.js';
import { type StubbedApp, startStubbedApp, startTestApp, stopStubbedApp } from '../helpers/test-app.js';
import { localProvider } from '../local/shared-provider.js';

/**
 * Traces as a real OTLP/HTTP receiver on 127.0.0.1 gets them: the operation's server span continues
 * the caller's trace, the upstream call's span hangs from it and continues at the upstream.
 */

function attribute(span: OtlpSpan | undefined, key: string): unknown {
  const value = span?.attributes.find((entry) => entry.key === key)?.value;
  if (value === undefined) return undefined;
  if ('arrayValue' in value) {
    return (value.arrayValue as { values: Record<string, unknown>[] }).values.map((v) => Object.values(v)[0]);
  }
  const raw = Object.values(value)[0];
  return 'intValue' in value ? Number(raw) : raw;
}

/**
 * Traces to the receiver (or a URL): every operation, protobuf, no content, unless the test says
 * otherwise; export failures go to `failures` when given.
 */
function tracingTo(
  target: Receiver | string,
  overrides: Partial<TracingConfig> = {},
  failures?: Error[],
): Tracing {
  return createTracing(
    {
      url: typeof target === 'string' ? target : target.url,
      headers: {},
      serviceName: 'completions-test',
      sampler: 'parentbased_always_on',
      samplerArg: undefined,
      captureContent: false,
      ...overrides,
    },
    failures === undefined ? {} : { onExportError: (error) => failures.push(error) },
  );
}

const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const callerSpanId = '00f067aa0ba902b7';
const prompt = 'the secret launch date is friday';
const input = { model: 'gpt-3.5-turbo-instruct', prompt: { text: prompt }, maxTokens: 20, temperature: 0.5 };
const hello = 'mutation Hello($input: CreateCompletionInput!) { createCompletion(input: $input) { id } }';

describe('traces over OTLP/HTTP', () => {
  let receiver: Receiver;
  let tracing: Tracing;
  let stubbed: StubbedApp;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    tracing = tracingTo(receiver, { headers: { 'x-collector-key': 'collector-secret' } });
    stubbed = await startStubbedApp({ app: { tracing } });
  });
  afterAll(async () => {
    await stopStubbedApp(stubbed);
    await tracing.shutdown();
    await receiver.close();
  });

  it('continues the caller’s trace: server span, then the call’s client span, retries as events', async () => {
    stubbed.stub.on(
      'POST',
      '/completions',
      reply.json(503, { error: { message: 'busy' } }),
      reply.recorded('openai-nonstream-basic.json'),
    );
    const response = await stubbed.app.post(
      hello,
      { input },
      { traceparent: `00-${traceId}-${callerSpanId}-01` },
    );
    expect(response.json.errors).toBeUndefined();
    await tracing.forceFlush();
    await expect.poll(() => receiver.spans().length).toBeGreaterThanOrEqual(2);
    expect(receiver.headers[0]?.['x-collector-key']).toBe('collector-secret');
    expect(receiver.headers[0]?.['user-agent']).toBe('completions-subgraph-otlp-exporter');

    const spans = receiver.spans().filter((span) => span.traceId === traceId);
    const server = spans.find((span) => span.name === 'mutation Hello');
    const client = spans.find((span) => span.name === 'text_completion gpt-3.5-turbo-instruct');
    expect(server).toMatchObject({ kind: 2, parentSpanId: callerSpanId });
    expect(attribute(server, 'graphql.operation.type')).toBe('mutation');
    expect(attribute(server, 'graphql.operation.name')).toBe('Hello');
    expect(client).toMatchObject({ kind: 3, parentSpanId: server?.spanId });
    expect(attribute(client, 'gen_ai.operation.name')).toBe('text_completion');
    expect(attribute(client, 'gen_ai.provider.name')).toBe('openai');
    expect(attribute(client, 'gen_ai.request.model')).toBe('gpt-3.5-turbo-instruct');
    expect(attribute(client, 'gen_ai.request.max_tokens')).toBe(20);
    expect(attribute(client, 'gen_ai.request.temperature')).toBe(0.5);
    expect(attribute(client, 'gen_ai.response.model')).toBe('gpt-3.5-turbo-instruct:20230824-v2');
    expect(attribute(client, 'gen_ai.response.id')).toMatch(/^cmpl-/);
    expect(attribute(client, 'gen_ai.response.finish_reasons')).toEqual(['stop']);
    expect(attribute(client, 'gen_ai.usage.input_tokens')).toBe(10);
    expect(attribute(client, 'gen_ai.usage.output_tokens')).toBe(12);
    expect(client?.events?.map((event) => event.name)).toEqual(['retry']);

    // Both attempts carried the client span's context to the upstream.
    const sent = stubbed.stub.requests.slice(-2).map((request) => request.headers.traceparent);
    expect(sent).toEqual([`00-${traceId}-${client?.spanId}-01`, `00-${traceId}-${client?.spanId}-01`]);
    // No prompt text unless asked for.
    expect(receiver.raw()).not.toContain('secret launch');
    // OTLP/HTTP's default encoding.
    expect(receiver.contentTypes[0]).toBe('application/x-protobuf');
  });

  it('records nothing of a trace the caller did not sample, and passes it on with a new span id', async () => {
    const unsampled = '0af7651916cd43dd8448eb211c80319c';
    stubbed.stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
    const response = await stubbed.app.post(
      hello,
      { input },
      { traceparent: `00-${unsampled}-${callerSpanId}-00` },
    );
    expect(response.json.errors).toBeUndefined();
    const sent = stubbed.stub.requests.at(-1)?.headers.traceparent;
    expect(sent).toMatch(new RegExp(`^00-${unsampled}-[0-9a-f]{16}-00$`));
    expect(sent).not.toContain(callerSpanId);
    // A sampled operation after it: once its spans arrive, the unsampled one would have too.
    await stubbed.app.post(hello, { input }, { traceparent: `00-${traceId}-${callerSpanId}-01` });
    await tracing.forceFlush();
    await expect
      .poll(() => receiver.spans().filter((span) => span.traceId === traceId).length)
      .toBeGreaterThan(0);
    expect(receiver.spans().filter((span) => span.traceId === unsampled)).toEqual([]);
  });

  it('gives the REST face a server span too, continuing the caller’s trace, with the call under it', async () => {
    stubbed.stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
    const restTrace = 'aaf92f3577b34da6a3ce929d0e0e4736';
    const response = await fetch(`${stubbed.app.origin}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${restTrace}-${callerSpanId}-01` },
      body: JSON.stringify({ model: 'gpt-3.5-turbo-instruct', prompt, max_tokens: 20 }),
    });
    expect(response.status).toBe(200);
    await tracing.forceFlush();
    await expect.poll(() => receiver.spans().filter((span) => span.traceId === restTrace).length).toBe(2);
    const spans = receiver.spans().filter((span) => span.traceId === restTrace);
    const server = spans.find((span) => span.name === 'POST /v1/completions');
    expect(server).toMatchObject({ kind: 2, parentSpanId: callerSpanId });
    expect(attribute(server, 'http.response.status_code')).toBe(200);
    expect(attribute(server, 'http.request.method')).toBe('POST');
    expect(attribute(server, 'url.path')).toBe('/v1/completions');
    const call = spans.find((span) => span.name.startsWith('text_completion'));
    expect(call?.parentSpanId).toBe(server?.spanId);
    expect(stubbed.stub.requests.at(-1)?.headers.traceparent).toBe(`00-${restTrace}-${call?.spanId}-01`);
  });

  it('marks a failed call and its operation with the error code', async () => {
    stubbed.stub.on(
      'POST',
      '/completions',
      reply.json(400, { error: { message: 'nope', type: 'invalid_request_error' } }),
    );
    const response = await stubbed.app.post(hello, { input });
    const code = response.json.errors[0].extensions.code;
    await tracing.forceFlush();
    await expect
      .poll(() => receiver.spans().filter((span) => attribute(span, 'error.type') === code).length)
      .toBe(2);
    const failed = receiver.spans().filter((span) => attribute(span, 'error.type') === code);
    expect(failed.every((span) => span.status?.code === 2)).toBe(true);
    // Without a caller's traceparent the server span is a root.
    expect(failed.find((span) => span.kind === 2)?.parentSpanId ?? '').toBe('');
  });

  it('times a stream’s first chunk on its span', async () => {
    stubbed.stub.on('POST', '/completions', reply.recorded('openai-stream-basic.sse'));
    const outcome = await sseClient(stubbed.app.graphqlUrl).run(completionStream, { input });
    expect(outcome.error).toBeUndefined();
    await tracing.forceFlush();
    await expect.poll(() => receiver.spans().some((span) => span.name.startsWith('subscription'))).toBe(true);
    const server = receiver.spans().find((span) => span.name.startsWith('subscription'));
    const call = receiver.spans().find((span) => span.parentSpanId === server?.spanId);
    expect(attribute(call, 'gen_ai.response.time_to_first_chunk')).toBeGreaterThan(0);
  });
});

describe('prompt and completion text on spans', () => {
  it('are recorded only when OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT asks for it', async () => {
    const receiver = await startOtlpReceiver();
    // The other encoding a collector takes.
    const tracing = tracingTo(receiver, { captureContent: true, protocol: 'http/json' });
    const stubbed = await startStubbedApp({ app: { tracing } });
    try {
      stubbed.stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
      await stubbed.app.post(hello, { input });
      await tracing.forceFlush();
      await expect.poll(() => receiver.spans().length).toBeGreaterThanOrEqual(2);
      expect(receiver.contentTypes[0]).toBe('application/json');
      const call = receiver.spans().find((span) => span.name.startsWith('text_completion'));
      expect(String(attribute(call, 'gen_ai.input.messages'))).toContain(prompt);
      expect(JSON.parse(String(attribute(call, 'gen_ai.output.messages')))[0].role).toBe('assistant');
    } finally {
      await stopStubbedApp(stubbed);
      await tracing.shutdown();
      await receiver.close();
    }
  });
});

describe('the embedded engine', () => {
  it('is an internal span, not a client one: no network call is made', async () => {
    const receiver = await startOtlpReceiver();
    const tracing = tracingTo(receiver);
    const app = await startTestApp({ provider: await localProvider(), app: { tracing } });
    try {
      const model = 'local-ngram-moby-dick';
      const response = await app.post(hello, { input: { model, prompt: { text: 'Call me' }, maxTokens: 4 } });
      expect(response.json.errors).toBeUndefined();
      await tracing.forceFlush();
      await expect.poll(() => receiver.spans().length).toBeGreaterThanOrEqual(2);
      const call = receiver.spans().find((span) => span.name === `text_completion ${model}`);
      expect(call?.kind).toBe(1);
      expect(attribute(call, 'gen_ai.provider.name')).toBe('local');
      expect(attribute(call, 'gen_ai.usage.output_tokens')).toBeGreaterThan(0);
    } finally {
      await app.close();
      await tracing.shutdown();
      await receiver.close();
    }
  });
});

describe('a collector that cannot be reached', () => {
  it('is reported, and the operation is served all the same', async () => {
    // A port with nobody listening: every export fails.
    const closed = await startOtlpReceiver();
    const url = closed.url;
    await closed.close();
    const failures: Error[] = [];
    // Shorter than the first retry's backoff (1 s): the export gives up after one attempt.
    const tracing = tracingTo(url, { timeoutMs: 500 }, failures);
    const stubbed = await startStubbedApp({ app: { tracing } });
    try {
      stubbed.stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
      const response = await stubbed.app.post(hello, { input });
      expect(response.json.errors).toBeUndefined();
      await tracing.forceFlush().catch(() => {});
      expect(failures.length).toBeGreaterThan(0);
    } finally {
      await stopStubbedApp(stubbed);
      await tracing.shutdown().catch(() => {});
    }
  });
});

describe('a collector over HTTPS', () => {
  const fixture = (name: string) => readFileSync(new URL(`../fixtures/tls/${name}`, import.meta.url), 'utf8');

  it('is trusted through the CA the configuration names, and refused without it', async () => {
    const tls = { cert: fixture('collector-cert.pem'), key: fixture('collector-key.pem') };
    const receiver = await startOtlpReceiver({ tls });
    const trusted = tracingTo(receiver, { tls: { ca: tls.cert } });
    trusted.startSpan('query Trusted', {}, ROOT_CONTEXT).end();
    await trusted.shutdown();
    expect(receiver.spans().map((span) => span.name)).toEqual(['query Trusted']);
    // A certificate no CA of the system signed: not sent.
    const failures: Error[] = [];
    const untrusted = tracingTo(receiver, {}, failures);
    untrusted.startSpan('query Untrusted', {}, ROOT_CONTEXT).end();
    await untrusted.shutdown();
    expect(failures).toHaveLength(1);
    expect(receiver.spans().map((span) => span.name)).toEqual(['query Trusted']);
    await receiver.close();
  });
});

describe('a collector that is busy', () => {
  it('gets the batch again when it answers 503 with Retry-After, and once only', async () => {
    const receiver = await startOtlpReceiver({ answers: [{ status: 503, headers: { 'retry-after': '0' } }] });
    const failures: Error[] = [];
    const tracing = tracingTo(receiver, { compression: 'gzip' }, failures);
    tracing.startSpan('query Q', {}, ROOT_CONTEXT).end();
    await tracing.forceFlush();
    await tracing.shutdown();
    expect(failures).toEqual([]);
    expect(receiver.headers).toHaveLength(2);
    expect(receiver.headers[1]?.['content-encoding']).toBe('gzip');
    expect(receiver.spans().map((span) => span.name)).toEqual(['query Q']);
    await receiver.close();
  });

  it('is not waited for at shutdown: a batch waiting to be retried is given up', async () => {
    // Retry in an hour: only a shutdown that ends the wait lets this test finish.
    const receiver = await startOtlpReceiver({
      answers: [{ status: 503, headers: { 'retry-after': '3600' } }],
    });
    const failures: Error[] = [];
    const tracing = tracingTo(receiver, { timeoutMs: 7_200_000 }, failures);
    tracing.startSpan('query Q', {}, ROOT_CONTEXT).end();
    const flushed = tracing.forceFlush();
    await expect.poll(() => receiver.headers.length).toBe(1);
    await tracing.shutdown();
    await flushed;
    expect(failures.map((error) => error.message)).toEqual(['the collector answered HTTP 503']);
    expect(receiver.headers).toHaveLength(1);
    await receiver.close();
  });

  it('is not asked again after an answer that will not change (400)', async () => {
    const receiver = await startOtlpReceiver({ answers: [{ status: 400 }] });
    const failures: Error[] = [];
    const tracing = tracingTo(receiver, {}, failures);
    tracing.startSpan('query Q', {}, ROOT_CONTEXT).end();
    await tracing.shutdown();
    expect(failures.map((error) => error.message)).toEqual(['the collector answered HTTP 400']);
    expect(receiver.headers).toHaveLength(1);
    await receiver.close();
  });
});

describe('sampling', () => {
  it.each([
    ['always_off', undefined, 0],
    ['parentbased_always_off', undefined, 0],
    ['parentbased_traceidratio', 0, 0],
    ['traceidratio', 1, 40],
    ['parentbased_traceidratio', undefined, 40],
    ['always_on', undefined, 40],
    ['parentbased_always_on', undefined, 40],
  ])('%s (%s) records %i of 40 roots', async (sampler, samplerArg, expected) => {
    const tracing = tracingTo('http://127.0.0.1:9/v1/traces', { sampler, samplerArg });
    const spans = Array.from({ length: 40 }, () => tracing.startSpan('query Q', {}, ROOT_CONTEXT));
    expect(spans.filter((span) => span.isRecording())).toHaveLength(expected);
    for (const span of spans) expect(isSpanContextValid(span.spanContext())).toBe(expected > 0);
    await tracing.shutdown();
  });

  it('records exactly the roots the sampler picks, under the trace id it picked them on', async () => {
    const receiver = await startOtlpReceiver();
    const tracing = tracingTo(receiver, { sampler: 'parentbased_traceidratio', samplerArg: 0.5 });
    const reference = new TraceIdRatioBasedSampler(0.5);
    const spans = Array.from({ length: 400 }, (_, i) => tracing.startSpan(`query Q${i}`, {}, ROOT_CONTEXT));
    const recorded = spans.filter((span) => span.isRecording());
    for (const span of spans) {
      const { traceId, traceFlags } = span.spanContext();
      const picked =
        reference.shouldSample(ROOT_CONTEXT, traceId).decision === SamplingDecision.RECORD_AND_SAMPLED;
      expect(span.isRecording()).toBe(picked);
      expect(traceFlags).toBe(picked ? 1 : 0);
      span.end();
    }
    // Half of them: the SDK, handed the trace id, decides as the sampler did (asked again on a new
    // id, it would keep half of that half).
    expect(recorded.length).toBeGreaterThan(150);
    expect(recorded.length).toBeLessThan(250);
    await tracing.forceFlush();
    expect(
      receiver
        .spans()
        .map((span) => span.traceId)
        .sort(),
    ).toEqual(recorded.map((span) => span.spanContext().traceId).sort());
    // A root that was not picked is no trace at all (the caller sent none, nothing records it):
    // its child is not recorded either, not sampled on its own, and nothing goes to the upstream.
    const skipped = spans.find((span) => !recorded.includes(span)) as Span;
    expect(isSpanContextValid(skipped.spanContext())).toBe(false);
    const children = Array.from({ length: 50 }, () =>
      tracing.startSpan('call', {}, trace.setSpan(ROOT_CONTEXT, skipped)),
    );
    expect(children.filter((child) => child.isRecording())).toEqual([]);
    expect(tracing.headersFor(children[0] as Span)).toEqual({});
    await tracing.shutdown();
    await receiver.close();
  });
});
