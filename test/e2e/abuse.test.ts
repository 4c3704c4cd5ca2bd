import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompletion } from '../helpers/operations.js';
import { reply, type StubUpstream, startStubUpstream } from '../helpers/stub-upstream.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

/** Abuse that must never reach the paid upstream: operation limits, body limits, CSRF, malformed requests. */

let stub: StubUpstream;
let app: TestApp;
let production: TestApp;

beforeAll(async () => {
  stub = await startStubUpstream();
  stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
  app = await startTestApp({ upstream: { baseUrl: stub.baseUrl } });
  production = await startTestApp({ upstream: { baseUrl: stub.baseUrl }, production: true });
});

afterAll(async () => {
  app.assertNoSecretLeaked();
  await app.close();
  await production.close();
  await stub.close();
});

const call = (alias: string) =>
  `${alias}: createCompletion(input: { model: "m", prompt: { text: "hi" } }) { id }`;
const modern = { 'content-type': 'application/json', accept: 'application/graphql-response+json' };

async function raw(
  method: string,
  headers: Record<string, string>,
  body?: string | Buffer,
  path = '/graphql',
) {
  const response = await request(`${app.origin}${path}`, { method, headers, body });
  const text = await response.body.text();
  let json: { errors?: { message: string; extensions?: Record<string, unknown> }[] } | undefined;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.statusCode, text, json, code: json?.errors?.[0]?.extensions?.code };
}

describe('operation cost', () => {
  it('100 aliased createCompletion fields: refused, 0 upstream calls', async () => {
    const before = stub.hits();
    const query = `mutation { ${Array.from({ length: 100 }, (_, i) => call(`c${i}`)).join(' ')} }`;
    const { status, code, json } = await raw('POST', modern, JSON.stringify({ query }));
    expect(status).toBe(400);
    // The first limit such a document meets is the token limit, while it is being parsed.
    expect(code).toBe('GRAPHQL_PARSE_FAILED');
    expect(json?.errors?.[0]?.message).toMatch(/Token limit of 2000 exceeded/);
    expect(stub.hits() - before).toBe(0);
  });

  it('two completions through aliases, a fragment and an inline fragment: MAX_COMPLETIONS_EXCEEDED with the count', async () => {
    const before = stub.hits();
    for (const query of [
      `mutation { ${call('a')} ${call('b')} }`,
      `mutation { ...F ${call('a')} } fragment F on Mutation { ${call('b')} }`,
      `mutation { ... on Mutation { ${call('a')} } ... { ${call('b')} } }`,
    ]) {
      const { status, json, code } = await raw('POST', modern, JSON.stringify({ query }));
      expect(status).toBe(400);
      expect(code).toBe('MAX_COMPLETIONS_EXCEEDED');
      expect(json?.errors?.[0]?.extensions).toMatchObject({ completionFields: 2, maxCompletions: 1 });
    }
    expect(stub.hits() - before).toBe(0);
  });

  it('a skipped second completion is not counted', async () => {
    const before = stub.hits();
    const { json } = await app.post(
      `mutation { ${call('a')} b: createCompletion(input: { model: "m", prompt: { text: "x" } }) @skip(if: true) { id } }`,
    );
    expect(json.errors).toBeUndefined();
    expect(stub.hits() - before).toBe(1);
  });

  it('an operation that may generate too many tokens: COST_LIMIT_EXCEEDED with the computed figures', async () => {
    const before = stub.hits();
    const { status, json, code } = await raw(
      'POST',
      modern,
      JSON.stringify({
        query: createCompletion,
        variables: {
          input: {
            model: 'm',
            prompt: { texts: ['Hello world', 'Hello'] },
            maxTokens: 1000,
            n: 4,
            bestOf: 10,
          },
        },
      }),
    );
    expect(status).toBe(400);
    expect(code).toBe('COST_LIMIT_EXCEEDED');
    // 3 prompt tokens (2 + 1) + 1000 × max(4, 10) × 2 prompts.
    expect(json?.errors?.[0]?.extensions).toMatchObject({
      estimatedTokens: 20_003,
      promptTokens: 3,
      maxCompletionTokens: 20_000,
      maxEstimatedTokens: 16_384,
    });
    expect(stub.hits() - before).toBe(0);
  });

  it('an oversized prompt is refused by its estimate', async () => {
    const before = stub.hits();
    const { code } = await raw(
      'POST',
      modern,
      JSON.stringify({
        query: createCompletion,
        variables: { input: { model: 'm', prompt: { text: 'whale '.repeat(150_000) } } },
      }),
    );
    expect(code).toBe('COST_LIMIT_EXCEEDED');
    expect(stub.hits() - before).toBe(0);
  });
});

describe('HTTP-level abuse', () => {
  it('a form-encoded POST cannot run a mutation (CSRF)', async () => {
    const before = stub.hits();
    const body = new URLSearchParams({ query: `mutation { ${call('a')} }` }).toString();
    const { status, code } = await raw('POST', { 'content-type': 'application/x-www-form-urlencoded' }, body);
    expect(status).toBe(403);
    expect(code).toBe('CSRF_HEADER_REQUIRED');
    expect(stub.hits() - before).toBe(0);
  });

  it('a 20 MiB body is refused with 413 before it is read', async () => {
    const { status, code } = await raw('POST', modern, Buffer.alloc(20 * 1024 * 1024, 0x20));
    expect(status).toBe(413);
    expect(code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('a chunked body that grows past 1 MiB is cut off with 413', async () => {
    async function* chunks() {
      for (let i = 0; i < 40; i++) yield Buffer.alloc(64 * 1024, 0x20);
    }
    const response = await request(app.graphqlUrl, {
      method: 'POST',
      headers: modern,
      body: Readable.from(chunks()),
    });
    expect(response.statusCode).toBe(413);
    await response.body.dump();
  });

  it("the REST face: a chunked body past 1 MiB is a 413 in OpenAI's shape, and the connection ends", async () => {
    async function* chunks() {
      for (let i = 0; i < 40; i++) yield Buffer.alloc(64 * 1024, 0x20);
    }
    const before = stub.hits();
    const response = await request(`${app.origin}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Readable.from(chunks()),
    });
    expect(response.statusCode).toBe(413);
    // Not kept alive to drain whatever else the client sends.
    expect(response.headers.connection).toBe('close');
    expect(((await response.body.json()) as { error: { code: string } }).error.code).toBe(
      'payload_too_large',
    );
    expect(stub.hits() - before).toBe(0);
  });

  it('a document nested 2,000 deep is a 400, never a 500', async () => {
    const query = `{ ${'a { '.repeat(2000)}b${' }'.repeat(2000)} }`;
    const { status, code, json } = await raw('POST', modern, JSON.stringify({ query }));
    expect(status).toBe(400);
    // Refused by the token limit before the parser could recurse 2,000 levels.
    expect(code).toBe('GRAPHQL_PARSE_FAILED');
    expect(json?.errors?.[0]?.message).toMatch(/Token limit of 2000 exceeded/);
  });

  it('array batching is off', async () => {
    const { status, code, json } = await raw(
      'POST',
      modern,
      JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]),
    );
    expect(status).toBe(400);
    expect(code).toBe('BAD_REQUEST');
    expect(json?.errors?.[0]?.message).toBe('Batching is not supported.');
  });

  it('field suggestions are off in production', async () => {
    const response = await production.post('{ modelz { id } }');
    expect(response.json.errors[0].message).not.toMatch(/Did you mean/);
    const dev = await app.post('{ modelz { id } }');
    expect(dev.json.errors[0].message).toMatch(/Did you mean/);
  });
});

describe('request targets that are not a path', () => {
  /** What a client that speaks HTTP by hand sends: the request line as written. */
  async function rawRequestLine(target: string): Promise<string> {
    const { connect } = await import('node:net');
    const { port } = new URL(production.origin);
    const socket = connect(Number(port), '127.0.0.1');
    socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
    let answer = '';
    for await (const chunk of socket) answer += String(chunk);
    return answer;
  }

  it.each(['http://127.0.0.1/graphql', '*'])('%s: 400 with a code, no stack, no paths', async (target) => {
    const answer = await rawRequestLine(target);
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toContain('"code":"BAD_REQUEST"');
    expect(answer).not.toMatch(/TypeError|node_modules|at /);
  });
});
