import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompletion } from '../helpers/operations.js';
import { reply, type StubUpstream } from '../helpers/stub-upstream.js';
import { startStubbedApp, stopStubbedApp, type TestApp } from '../helpers/test-app.js';

/**
 * A catalogue of malformed requests, each sent raw over HTTP. Every one must get a 4xx with an
 * `extensions.code`, none a 5xx, and none may reach the upstream.
 */

let stub: StubUpstream;
let app: TestApp;

beforeAll(async () => {
  ({ stub, app } = await startStubbedApp());
  stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
});

afterAll(() => stopStubbedApp({ stub, app }));

const json = { 'content-type': 'application/json', accept: 'application/graphql-response+json' };
const mutation = (input: string) => `mutation { createCompletion(input: ${input}) { id } }`;
const ok = '{ model: "m", prompt: { text: "hi" } }';
const body = (query: unknown, variables?: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ query, variables, ...extra });
const vars = (input: unknown) => body(createCompletion, { input });

interface Case {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  path?: string;
}

const catalogue: Record<string, Case> = {
  'invalid JSON': { body: '{"query": "{ __typename }"' },
  'JSON null': { body: 'null' },
  'JSON string': { body: '"mutation { x }"' },
  'JSON number': { body: '42' },
  'empty body': { body: '' },
  'batched array': { body: body('{ __typename }').replace(/^/, '[').concat(']') },
  'no query': { body: '{}' },
  'query is a number': { body: body(5) },
  'query is an object': { body: body({ mutation: 'x' }) },
  'empty query': { body: body('') },
  'variables is a string': { body: body(createCompletion, 'x') },
  'variables is an array': { body: body(createCompletion, [1]) },
  'operationName is a number': { body: body(createCompletion, {}, { operationName: 3 }) },
  'unknown operationName': { body: body(createCompletion, {}, { operationName: 'Nope' }) },
  'two operations, no name': { body: body(`${mutation(ok)} query Q { __typename }`) },
  'syntax error': { body: body('mutation { createCompletion(') },
  'unknown field': { body: body('{ completions { id } }') },
  'unknown argument': { body: body(`mutation { createCompletion(input: ${ok}, x: 1) { id } }`) },
  'unknown input field': { body: body(mutation('{ model: "m", prompt: { text: "hi" }, temprature: 1 }')) },
  'unknown variable type': {
    body: body('mutation ($i: CompletionInput!) { createCompletion(input: $i) { id } }', { i: {} }),
  },
  'wrong variable type': { body: vars({ model: 'm', prompt: { text: 'hi' }, temperature: 'hot' }) },
  'missing required variable': { body: body(createCompletion, {}) },
  'null for a required variable': { body: body(createCompletion, { input: null }) },
  'missing model': { body: vars({ prompt: { text: 'hi' } }) },
  'prompt with two forms': { body: vars({ model: 'm', prompt: { text: 'a', tokens: [1] } }) },
  'prompt with no form': { body: vars({ model: 'm', prompt: {} }) },
  'Int overflow': { body: vars({ model: 'm', prompt: { text: 'hi' }, n: 2 ** 40 }) },
  'a float for an Int': { body: vars({ model: 'm', prompt: { text: 'hi' }, maxTokens: 1.5 }) },
  'a string token': { body: vars({ model: 'm', prompt: { tokens: ['1'] } }) },
  'Infinity from 1e999': {
    body: `{"query":${JSON.stringify(createCompletion)},"variables":{"input":{"model":"m","prompt":{"text":"hi"},"temperature":1e999}}}`,
  },
  'invalid UTF-8 bytes': {
    body: Buffer.concat([
      Buffer.from('{"query":"{ __typ'),
      Buffer.from([0xff, 0xfe, 0xc3]),
      Buffer.from('ename }"}'),
    ]),
  },
  'lone surrogate escape in a prompt': {
    body: `{"query":${JSON.stringify(createCompletion)},"variables":{"input":{"model":"m","prompt":{"text":"\\ud800"},"logprobs":9}}}`,
  },
  'NUL bytes in the query': { body: body('{ __typename \u0000 }') },
  'text/plain body': { headers: { 'content-type': 'text/plain' }, body: body(mutation(ok)) },
  'form-encoded body': {
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `query=${encodeURIComponent(mutation(ok))}`,
  },
  'multipart body': {
    headers: { 'content-type': 'multipart/form-data; boundary=x' },
    body: `--x\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${body(mutation(ok))}\r\n--x--\r\n`,
  },
  'XML content type': { headers: { 'content-type': 'application/xml' }, body: '<query/>' },
  'no content type': { headers: {}, body: body(mutation(ok)) },
  'unacceptable Accept': {
    headers: { 'content-type': 'application/json', accept: 'application/xml' },
    body: body('{ __typename }'),
  },
  PUT: { method: 'PUT', body: body(mutation(ok)) },
  DELETE: { method: 'DELETE' },
  PATCH: { method: 'PATCH', body: body(mutation(ok)) },
  'mutation over GET': {
    method: 'GET',
    path: `/graphql?query=${encodeURIComponent(mutation(ok))}`,
    headers: { accept: 'application/graphql-response+json' },
  },
  'GET without a query': {
    method: 'GET',
    path: '/graphql?variables=%7B%7D',
    headers: { accept: 'application/graphql-response+json' },
  },
  'subscription over a cross-site GET event stream': {
    method: 'GET',
    path: `/graphql?query=${encodeURIComponent(`subscription { completionStream(input: ${ok}) { id } }`)}`,
    headers: { accept: 'text/event-stream' },
  },
  'nesting 2,000 deep': { body: body(`{ ${'a { '.repeat(2000)}b${' }'.repeat(2000)} }`) },
  '1,000 aliases': {
    body: body(`{ ${Array.from({ length: 1000 }, (_, i) => `a${i}: __typename`).join(' ')} }`),
  },
  '5,000 tokens': { body: body(`{ ${'__typename '.repeat(5000)}}`) },
  '50 directives': { body: body(`{ __typename ${'@skip(if: false) '.repeat(50)}}`) },
  'fragment cycle': {
    body: body('query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }'),
  },
  'huge variables (a 900 KB prompt)': { body: vars({ model: 'm', prompt: { text: 'x '.repeat(450_000) } }) },
  'oversized prompt list': {
    body: vars({
      model: 'm',
      prompt: { texts: Array.from({ length: 2000 }, () => 'hello there') },
      maxTokens: 16,
    }),
  },
  'a 20 MiB body': { body: Buffer.alloc(20 * 1024 * 1024, 0x20) },
  '__proto__ in variables': {
    body: `{"query":${JSON.stringify(createCompletion)},"variables":{"input":{"model":"m","prompt":{"text":"hi"},"__proto__":{"temperature":5}}}}`,
  },
  'variables nested 10,000 deep': {
    body: `{"query":${JSON.stringify(createCompletion)},"variables":{"input":${'['.repeat(10_000)}${']'.repeat(10_000)}}}`,
  },
  'extensions is a string': { body: body('{ __typename', undefined, { extensions: 'x' }) },
};

describe('malformed request catalogue', () => {
  it('has at least 40 entries', () => {
    expect(Object.keys(catalogue).length).toBeGreaterThanOrEqual(40);
  });

  it.each(Object.entries(catalogue))('%s: 4xx with a code, no upstream call', async (_name, entry) => {
    const before = stub.hits();
    const response = await request(`${app.origin}${entry.path ?? '/graphql'}`, {
      method: entry.method ?? 'POST',
      headers: entry.headers ?? json,
      body: entry.body,
    });
    const text = await response.body.text();
    expect(response.statusCode, text).toBeGreaterThanOrEqual(400);
    expect(response.statusCode, text).toBeLessThan(500);
    // An event-stream request gets its error as the stream's one event.
    const parsed = JSON.parse(/^data: (.*)$/m.exec(text)?.[1] ?? text);
    const codes = (parsed.errors ?? []).map((e: { extensions?: { code?: unknown } }) => e.extensions?.code);
    expect(codes.length, text).toBeGreaterThan(0);
    expect(
      codes.every((code: unknown) => typeof code === 'string' && code !== 'INTERNAL_SERVER_ERROR'),
      text,
    ).toBe(true);
    expect(text).not.toMatch(/\bat .+\.(ts|js):\d+/);
    expect(stub.hits() - before).toBe(0);
  });
});
