import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sseClient, wsClient } from '../helpers/clients.js';
import { completionStream, createCompletion } from '../helpers/operations.js';
import { reply } from '../helpers/stub-upstream.js';
import { type StubbedApp, startStubbedApp, stopStubbedApp } from '../helpers/test-app.js';

/**
 * One structured line per operation, the request id on every line of a request, and a stream's
 * usage on its last event.
 */

const prices = new Map([['gpt-3.5-turbo-instruct:20230824-v2', { input: 1.5, output: 2 }]]);
const prompt = 'tell nobody about the merger';
const input = { model: 'gpt-3.5-turbo-instruct', prompt: { text: prompt }, maxTokens: 20 };

let stubbed: StubbedApp;
beforeAll(async () => {
  stubbed = await startStubbedApp({ app: { prices } });
});
afterAll(() => stopStubbedApp(stubbed));

// biome-ignore lint/suspicious/noExplicitAny: log lines are arbitrary JSON
function linesSince(start: number): any[] {
  return stubbed.app.logs.slice(start).flatMap((text) =>
    text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line)),
  );
}

const includeUsageSse = readFileSync(
  new URL('../fixtures/upstream/openai-stream-include-usage.chunks.jsonl', import.meta.url),
  'utf8',
)
  .split('\n')
  .filter(Boolean)
  .map((line) => `data: ${line}\n\n`)
  .concat('data: [DONE]\n\n');

describe('the access line', () => {
  it('says who ran what, on which model, for how many tokens and dollars, how long, and how it ended', async () => {
    stubbed.stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
    const start = stubbed.app.logs.length;
    const response = await stubbed.app.post(
      createCompletion,
      { input },
      { 'x-request-id': 'support-ticket-42' },
    );
    expect(response.json.errors).toBeUndefined();
    const lines = linesSince(start).filter((line) => line.msg === 'operation');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 30,
      requestId: 'support-ticket-42',
      client: 'anonymous',
      operation: { type: 'mutation', name: 'Create' },
      outcome: 'OK',
      models: ['gpt-3.5-turbo-instruct:20230824-v2'],
      tokensIn: 10,
      tokensOut: 12,
      costUsd: 0.000039,
    });
    expect(lines[0].durationMs).toBeGreaterThan(0);
    expect(stubbed.app.logs.slice(start).join('')).not.toContain('merger');
  });

  it('puts the request id on the upstream warning too, and the failure code as the outcome', async () => {
    stubbed.stub.on('POST', '/completions', reply.json(500, { error: { message: 'boom' } }));
    const start = stubbed.app.logs.length;
    const response = await stubbed.app.post(createCompletion, { input });
    const requestId = response.headers.get('x-request-id');
    expect(requestId).toBeTruthy();
    const lines = linesSince(start);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.every((line) => line.requestId === requestId)).toBe(true);
    expect(lines).toContainEqual(expect.objectContaining({ level: 40, code: 'UPSTREAM_UNAVAILABLE' }));
    expect(lines.find((line) => line.msg === 'operation')).toMatchObject({ outcome: 'UPSTREAM_UNAVAILABLE' });
  });

  it('gives a stream its time to first event, over SSE and WebSocket', async () => {
    for (const client of [sseClient(stubbed.app.graphqlUrl), wsClient(stubbed.app.graphqlUrl)]) {
      stubbed.stub.on('POST', '/completions', reply.recorded('openai-stream-basic.sse'));
      const start = stubbed.app.logs.length;
      const outcome = await client.run(completionStream, { input });
      await client.dispose();
      expect(outcome.error).toBeUndefined();
      await expect.poll(() => linesSince(start).filter((line) => line.msg === 'operation').length).toBe(1);
      const line = linesSince(start).find((entry) => entry.msg === 'operation');
      expect(line).toMatchObject({ operation: { type: 'subscription', name: 'Stream' }, outcome: 'OK' });
      expect(line.timeToFirstEventMs).toBeGreaterThan(0);
      expect(line.tokensOut).toBeGreaterThan(0);
    }
  });
});

describe('a stream’s usage', () => {
  it('rides on its last event, without includeUsage (counted) and with it (the upstream’s)', async () => {
    stubbed.stub.on('POST', '/completions', reply.recorded('openai-stream-basic.sse'));
    const counted = await sseClient(stubbed.app.graphqlUrl).run(completionStream, { input });
    expect(counted.error).toBeUndefined();
    const last = counted.events.at(-1);
    expect(last.data.completionStream.choices[0].finishReason).toBeTruthy();
    expect(last.extensions.usage.calls[0]).toMatchObject({
      field: 'completionStream',
      promptTokens: expect.any(Number),
    });
    expect(counted.events.slice(0, -1).every((event) => event.extensions?.usage === undefined)).toBe(true);

    stubbed.stub.on('POST', '/completions', reply.sse(includeUsageSse));
    const reported = await wsClient(stubbed.app.graphqlUrl).run(completionStream, {
      input: { ...input, streamOptions: { includeUsage: true } },
    });
    expect(reported.error).toBeUndefined();
    const usageEvent = reported.events.at(-1);
    expect(usageEvent.data.completionStream.choices).toEqual([]);
    const usage = usageEvent.data.completionStream.usage;
    expect(usageEvent.extensions.usage.calls[0]).toMatchObject({
      promptTokens: usage.promptTokens,
      completionTokens: usage.completionTokens,
    });
    expect(reported.events.slice(0, -1).every((event) => event.extensions?.usage === undefined)).toBe(true);
  });
});

describe('the REST face’s access line', () => {
  it('has the same shape, with the HTTP status and the stable code as outcome', async () => {
    stubbed.stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
    const start = stubbed.app.logs.length;
    const ok = await fetch(`${stubbed.app.origin}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'rest-1' },
      body: JSON.stringify({ model: 'gpt-3.5-turbo-instruct', prompt: prompt, max_tokens: 20 }),
    });
    expect(ok.status).toBe(200);
    const bad = await fetch(`${stubbed.app.origin}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'rest-2' },
      body: JSON.stringify({ model: 'gpt-3.5-turbo-instruct', prompt: 'x', temperature: 9 }),
    });
    expect(bad.status).toBe(400);
    const lines = linesSince(start).filter((line) => line.msg === 'operation');
    expect(lines).toEqual([
      expect.objectContaining({
        requestId: 'rest-1',
        operation: { type: 'rest', name: 'POST /v1/completions' },
        outcome: 'OK',
        status: 200,
        tokensIn: 10,
        tokensOut: 12,
        costUsd: 0.000039,
      }),
      expect.objectContaining({ requestId: 'rest-2', status: 400, outcome: 'BAD_USER_INPUT' }),
    ]);
    expect(stubbed.app.logs.slice(start).join('')).not.toContain('merger');
  });

  it('a stream the client cuts short is CLIENT_CLOSED_REQUEST, not OK', async () => {
    const first = readFileSync(
      new URL('../fixtures/upstream/openai-stream-basic.sse', import.meta.url),
      'utf8',
    ).split('\n\n')[0];
    stubbed.stub.on('POST', '/completions', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`${first}\n\n`);
    });
    const start = stubbed.app.logs.length;
    const leaving = new AbortController();
    const response = await fetch(`${stubbed.app.origin}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'rest-cut' },
      body: JSON.stringify({ model: 'gpt-3.5-turbo-instruct', prompt: 'x', stream: true }),
      signal: leaving.signal,
    });
    const reader = response.body?.getReader();
    await reader?.read();
    leaving.abort();
    await expect
      .poll(() => linesSince(start).find((line) => line.requestId === 'rest-cut')?.outcome)
      .toBe('CLIENT_CLOSED_REQUEST');
  });
});

describe('a hostile operation name', () => {
  it('is cut short in the access line and the metrics, not written out whole', async () => {
    const start = stubbed.app.logs.length;
    const name = `N${'x'.repeat(50_000)}`;
    const response = await stubbed.app.post(`query ${name} { __typename }`);
    expect(response.json.data.__typename).toBe('Query');
    const line = linesSince(start).find((entry) => entry.msg === 'operation');
    expect(line.operation.name.length).toBeLessThanOrEqual(101);
    const metrics = await (await fetch(`${stubbed.app.origin}/metrics`)).text();
    expect(metrics).not.toContain('x'.repeat(200));
  });
});
