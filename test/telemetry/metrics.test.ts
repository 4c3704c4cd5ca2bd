import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientAuthenticator, hashToken } from '../../src/auth/client-keys.js';
import { createMetricsServer } from '../../src/http/metrics-route.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { sseClient, wsClient } from '../helpers/clients.js';
import { completionStream, createCompletion } from '../helpers/operations.js';
import { reply } from '../helpers/stub-upstream.js';
import { type StubbedApp, startStubbedApp, stopStubbedApp } from '../helpers/test-app.js';

/** `GET /metrics`: what an operator's Prometheus scrapes, after real operations over real HTTP. */

const prices = new Map([['gpt-3.5-turbo-instruct:20230824-v2', { input: 1.5, output: 2 }]]);
const input = { model: 'gpt-3.5-turbo-instruct', prompt: { text: 'Say hi' }, maxTokens: 20 };

async function scrape(origin: string, headers: Record<string, string> = {}): Promise<string> {
  const response = await fetch(`${origin}/metrics`, { headers });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return response.text();
}

/** The value of one sample, found by its name and a subset of its labels. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) {
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return undefined;
}

describe('/metrics in open mode', () => {
  let stubbed: StubbedApp;
  beforeAll(async () => {
    stubbed = await startStubbedApp({ app: { prices } });
  });
  afterAll(() => stopStubbedApp(stubbed));

  it('counts tokens, durations and cost of a paid call under the GenAI names and attributes', async () => {
    stubbed.stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
    const response = await stubbed.app.post(
      `mutation Hello($input: CreateCompletionInput!) { createCompletion(input: $input) { id } }`,
      { input },
    );
    expect(response.json.errors).toBeUndefined();
    const text = await scrape(stubbed.app.origin);
    const call = {
      gen_ai_operation_name: 'text_completion',
      gen_ai_provider_name: 'openai',
      gen_ai_request_model: 'gpt-3.5-turbo-instruct',
      gen_ai_response_model: 'gpt-3.5-turbo-instruct:20230824-v2',
    };
    // The recorded body used 10 prompt and 12 completion tokens.
    expect(sample(text, 'gen_ai_client_token_usage_sum', { ...call, gen_ai_token_type: 'input' })).toBe(10);
    expect(sample(text, 'gen_ai_client_token_usage_sum', { ...call, gen_ai_token_type: 'output' })).toBe(12);
    expect(
      sample(text, 'gen_ai_client_token_usage_bucket', { ...call, gen_ai_token_type: 'input', le: '16' }),
    ).toBe(1);
    expect(
      sample(text, 'gen_ai_client_token_usage_bucket', { ...call, gen_ai_token_type: 'input', le: '4' }),
    ).toBe(0);
    expect(sample(text, 'gen_ai_client_operation_duration_seconds_count', call)).toBe(1);
    expect(sample(text, 'gen_ai_client_operation_duration_seconds_bucket', { le: '81.92' })).toBe(1);
    // 10 × 1.5 + 12 × 2 per million tokens.
    expect(sample(text, 'gen_ai_client_cost_usd_total', { client: 'anonymous' })).toBeCloseTo(0.000039, 9);
    expect(
      sample(text, 'graphql_server_operation_duration_seconds_count', {
        graphql_operation_type: 'mutation',
        graphql_operation_name: 'Hello',
        outcome: 'OK',
      }),
    ).toBe(1);
    expect(sample(text, 'upstream_attempts_total', { status: '200', retried: 'false' })).toBe(1);
    expect(sample(text, 'upstream_circuit_breaker_state', { upstream: 'openai' })).toBe(0);
  });

  it('labels failures by their code, and counts each retried attempt by status', async () => {
    stubbed.stub.on(
      'POST',
      '/completions',
      reply.json(503, { error: { message: 'busy' } }),
      reply.json(503, { error: { message: 'busy' } }),
      reply.json(503, { error: { message: 'busy' } }),
    );
    const response = await stubbed.app.post(createCompletion, { input });
    expect(response.json.errors[0].extensions.code).toBe('UPSTREAM_UNAVAILABLE');
    const text = await scrape(stubbed.app.origin);
    // Two retries (maxRetries 2), then the third 503 is given up on.
    expect(sample(text, 'upstream_attempts_total', { status: '503', retried: 'true' })).toBe(2);
    expect(sample(text, 'upstream_attempts_total', { status: '503', retried: 'false' })).toBe(1);
    expect(
      sample(text, 'gen_ai_client_operation_duration_seconds_count', { error_type: 'UPSTREAM_UNAVAILABLE' }),
    ).toBe(1);
    expect(
      sample(text, 'graphql_server_operation_duration_seconds_count', {
        graphql_operation_type: 'mutation',
        outcome: 'UPSTREAM_UNAVAILABLE',
      }),
    ).toBe(1);
  });

  it('times a stream’s first chunk and the chunks after it, and counts open streams back to zero', async () => {
    stubbed.stub.on('POST', '/completions', reply.recorded('openai-stream-basic.sse'));
    const outcome = await sseClient(stubbed.app.graphqlUrl).run(completionStream, { input });
    expect(outcome.error).toBeUndefined();
    const chunks = outcome.events.filter((event) => event.data?.completionStream).length;
    expect(chunks).toBeGreaterThan(2);
    const text = await scrape(stubbed.app.origin);
    expect(sample(text, 'gen_ai_client_operation_time_to_first_chunk_seconds_count')).toBe(1);
    expect(sample(text, 'gen_ai_client_operation_time_per_output_chunk_seconds_count')).toBe(chunks - 1);
    expect(sample(text, 'graphql_open_streams')).toBe(0);
  });

  it('shows a stream and a WebSocket while they are open', async () => {
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    stubbed.stub.on('POST', '/completions', async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(
        'data: {"id":"c","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":"a","finish_reason":null,"logprobs":null}]}\n\n',
      );
      await gate;
      res.end('data: [DONE]\n\n');
    });
    const client = wsClient(stubbed.app.graphqlUrl);
    const events: unknown[] = [];
    const done = new Promise<void>((resolve) =>
      client.subscribe(
        completionStream,
        { input },
        { next: (e) => events.push(e), error: () => resolve(), complete: () => resolve() },
      ),
    );
    await expect.poll(() => events.length).toBe(1);
    const during = await scrape(stubbed.app.origin);
    expect(sample(during, 'graphql_open_streams')).toBe(1);
    expect(sample(during, 'graphql_ws_connections')).toBe(1);
    release();
    await done;
    await client.dispose();
    await expect.poll(async () => sample(await scrape(stubbed.app.origin), 'graphql_ws_connections')).toBe(0);
    expect(sample(await scrape(stubbed.app.origin), 'graphql_open_streams')).toBe(0);
  });

  it('a client failing under ever new operation names takes no place from the names that work', async () => {
    for (let i = 0; i < 230; i++) {
      await stubbed.app.post(
        `mutation Junk${i} { createCompletion(input: { model: "m", prompt: { text: "x" }, maxTokens: -1 }) { id } }`,
      );
    }
    await stubbed.app.post('query Dashboard { __typename }');
    const text = await scrape(stubbed.app.origin);
    expect(text).toContain('graphql_operation_name="Dashboard"');
    expect(text).not.toContain('graphql_operation_name="Junk');
  });

  it('keeps client-chosen operation names bounded: past 200 distinct ones they read `other`', async () => {
    for (let i = 0; i < 230; i++) await stubbed.app.post(`query Name${i} { __typename }`);
    const text = await scrape(stubbed.app.origin);
    const names = new Set(
      [
        ...text.matchAll(
          /graphql_server_operation_duration_seconds_count\{[^}]*graphql_operation_name="([^"]*)"/g,
        ),
      ].map((match) => match[1]),
    );
    expect(names.has('other')).toBe(true);
    expect(names.size).toBeLessThanOrEqual(202);
  });
});

describe('/metrics with client keys', () => {
  const key = 'sk-client-metrics-test';
  const authenticator = new ClientAuthenticator([{ name: 'alice', sha256: hashToken(key) }]);
  let withToken: StubbedApp;
  let withoutToken: StubbedApp;
  beforeAll(async () => {
    withToken = await startStubbedApp({ app: { authenticator, metricsToken: 'scrape-me' } });
    withoutToken = await startStubbedApp({ app: { authenticator } });
  });
  afterAll(async () => {
    await stopStubbedApp(withToken);
    await stopStubbedApp(withoutToken);
  });

  it('needs the metrics token: a client key is not enough, and a wrong token is refused', async () => {
    for (const authorization of [undefined, `Bearer ${key}`, 'Bearer scrape-m', 'Bearer scrape-me2']) {
      const response = await fetch(`${withToken.app.origin}/metrics`, {
        headers: authorization === undefined ? {} : { authorization },
      });
      expect(response.status).toBe(401);
      expect((await response.json()).errors[0].extensions.code).toBe('UNAUTHENTICATED');
    }
    const text = await scrape(withToken.app.origin, { authorization: 'Bearer scrape-me' });
    expect(text).toContain('# TYPE gen_ai_client_token_usage histogram');
    expect(text).not.toContain('scrape-me');
    // The scheme in any case, as RFC 9110 has it.
    expect(await scrape(withToken.app.origin, { authorization: 'bearer scrape-me' })).toContain(
      'gen_ai_client_token_usage',
    );
  });

  it('does not exist without a token configured', async () => {
    const response = await fetch(`${withoutToken.app.origin}/metrics`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(response.status).toBe(404);
  });
});

describe('refusals and failed writes', () => {
  it('counts a client limit’s refusal by limit, and a completion that could not be stored', async () => {
    const stubbed = await startStubbedApp({
      app: { rateLimit: { requestsPerMinute: 1, tokensPerMinute: 0 } },
    });
    try {
      stubbed.stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
      // No storage configured: `store: true` cannot be honoured, and says so in a warning.
      const first = await stubbed.app.post(createCompletion, { input: { ...input, store: true } });
      expect(first.json.extensions.warnings[0].code).toBe('STORE_FAILED');
      const second = await stubbed.app.post(createCompletion, { input });
      expect(second.json.errors[0].extensions.code).toBe('RATE_LIMITED');
      const text = await scrape(stubbed.app.origin);
      expect(sample(text, 'rate_limit_refusals_total', { limit: 'requests' })).toBe(1);
      expect(sample(text, 'rate_limit_refusals_total', { limit: 'tokens' })).toBe(0);
      expect(sample(text, 'store_write_failures_total', { store: 'completions' })).toBe(1);
    } finally {
      await stopStubbedApp(stubbed);
    }
  });
});

describe('METRICS_PORT', () => {
  it('serves /metrics alone on a second port, open, or behind the token when one is set', async () => {
    const metrics = createMetrics();
    for (const token of [undefined, 'port-token']) {
      const server = createMetricsServer(metrics.registry, token);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      try {
        expect((await fetch(`${origin}/graphql`)).status).toBe(404);
        const bare = await fetch(`${origin}/metrics`);
        expect(bare.status).toBe(token === undefined ? 200 : 401);
        if (token !== undefined) {
          const authorised = await fetch(`${origin}/metrics`, {
            headers: { authorization: `Bearer ${token}` },
          });
          expect(await authorised.text()).toContain('gen_ai_client_token_usage');
        }
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    }
  });

  it('bound to loopback, answers only loopback Host names (no DNS rebinding from a web page)', async () => {
    const server = createMetricsServer(createMetrics().registry, undefined, ['localhost', '127.0.0.1']);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const ask = (host: string) =>
        request(`http://127.0.0.1:${port}/metrics`, { headers: { host } }).then(async (r) => {
          await r.body.text();
          return r.statusCode;
        });
      expect(await ask(`localhost:${port}`)).toBe(200);
      expect(await ask('attacker.example')).toBe(421);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('model labels', () => {
  it('failed calls under ever new model names take no place from the models that answer', async () => {
    const metrics = createMetrics();
    for (let i = 0; i < 150; i++) {
      metrics.call({ providerName: 'openai', requestModel: `junk-${i}`, errorType: 'BAD_USER_INPUT' }, 0.01);
    }
    metrics.call(
      {
        providerName: 'openai',
        requestModel: 'gpt-3.5-turbo-instruct',
        responseModel: 'gpt-3.5-turbo-instruct',
      },
      0.2,
      { input: 3, output: 5 },
    );
    const text = await metrics.registry.metrics();
    expect(text).toContain('gen_ai_request_model="gpt-3.5-turbo-instruct"');
    expect(text).toContain('gen_ai_request_model="other"');
    expect(text).not.toContain('junk-');
  });
});

describe('a reset registry', () => {
  it('reads zero, then counts what comes after the reset (a call finds its series once)', async () => {
    const metrics = createMetrics();
    const attributes = { providerName: 'openai', requestModel: 'm', responseModel: 'm' };
    metrics.call(attributes, 0.2, { input: 3, output: 5 });
    metrics.upstreamAttempt('200', false);
    metrics.registry.resetMetrics();
    const reset = await metrics.registry.metrics();
    expect(sample(reset, 'gen_ai_client_token_usage_sum', { gen_ai_token_type: 'input' })).toBe(0);
    expect(sample(reset, 'upstream_attempts_total', { status: '200' })).toBe(0);
    metrics.call(attributes, 0.2, { input: 4, output: 6 });
    metrics.upstreamAttempt('200', false);
    metrics.upstreamAttempt('200', true);
    const text = await metrics.registry.metrics();
    expect(sample(text, 'gen_ai_client_token_usage_sum', { gen_ai_token_type: 'input' })).toBe(4);
    expect(sample(text, 'gen_ai_client_token_usage_sum', { gen_ai_token_type: 'output' })).toBe(6);
    expect(
      sample(text, 'gen_ai_client_operation_duration_seconds_count', { gen_ai_request_model: 'm' }),
    ).toBe(1);
    expect(sample(text, 'upstream_attempts_total', { status: '200', retried: 'false' })).toBe(1);
    expect(sample(text, 'upstream_attempts_total', { status: '200', retried: 'true' })).toBe(1);
  });
});
