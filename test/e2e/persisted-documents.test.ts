import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createPersistedDocuments } from '../../src/plugins/persisted-documents.js';
import { sha256 } from '../../src/plugins/persisted-manifest.js';
import { sseClient, wsClient } from '../helpers/clients.js';
import { completionStream, createCompletion } from '../helpers/operations.js';
import { reply } from '../helpers/stub-upstream.js';
import { type StubbedApp, startStubbedApp, stopStubbedApp } from '../helpers/test-app.js';

/**
 * Known documents by sha256: a trusted-documents manifest (the client preset's format), with an
 * optional mode where nothing else runs, on every transport; and Apollo's automatic persisted
 * queries when that mode is off.
 */

const input = { model: 'gpt-3.5-turbo-instruct', prompt: { text: 'What is 2 + 2?' }, maxTokens: 7 };
const modelsQuery = '{ models { id } }';
const manifest = new Map([createCompletion, completionStream, modelsQuery].map((doc) => [sha256(doc), doc]));
const id = (doc: string) => sha256(doc);
const persisted = (doc: string) => ({ persistedQuery: { version: 1, sha256Hash: id(doc) } });

function answerCompletions(stubbed: StubbedApp) {
  stubbed.stub.on('POST', '/completions', reply.completionOrStream());
  stubbed.stub.on('GET', '/models', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"object":"list","data":[{"id":"m","object":"model","created":1,"owned_by":"x"}]}');
  });
}

async function post(stubbed: StubbedApp, body: Record<string, unknown>, path = '/graphql') {
  const response = await fetch(`${stubbed.app.origin}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, never> };
}

const code = (result: { errors?: { extensions?: { code?: string } }[] } | undefined) =>
  result?.errors?.[0]?.extensions?.code;

describe('TRUSTED_DOCUMENTS_ONLY: only the manifest runs, on every transport', () => {
  let stubbed: StubbedApp;
  beforeAll(async () => {
    stubbed = await startStubbedApp({ app: { trustedDocuments: { manifest, only: true } } });
    answerCompletions(stubbed);
  });
  afterAll(() => stopStubbedApp(stubbed));

  it('runs a listed document by the client preset’s documentId or by APQ hash, over HTTP POST and GET', async () => {
    const served = stubbed.app.app.served.jsonRoute;
    const byId = await post(stubbed, { documentId: `sha256:${id(createCompletion)}`, variables: { input } });
    expect(byId.json).toMatchObject({ data: { createCompletion: { id: expect.any(String) } } });
    // The known document takes the fast route too.
    expect(stubbed.app.app.served.jsonRoute).toBe(served + 1);
    const byHash = await post(stubbed, { extensions: persisted(createCompletion), variables: { input } });
    expect(byHash.json).toMatchObject({ data: { createCompletion: { id: expect.any(String) } } });
    const upperCase = `SHA256:${id(createCompletion).toUpperCase()}`;
    const shouted = await post(stubbed, { documentId: upperCase, variables: { input } });
    expect(shouted.json).toMatchObject({ data: { createCompletion: { id: expect.any(String) } } });
    const get = await fetch(`${stubbed.app.graphqlUrl}?documentId=${id(modelsQuery)}`, {
      headers: { accept: 'application/graphql-response+json' },
    });
    expect(await get.json()).toMatchObject({ data: { models: [{ id: 'm' }] } });
  });

  it('refuses any document sent as text, listed or not, and an unknown id: nothing paid', async () => {
    const before = stubbed.stub.hits('/completions');
    for (const body of [
      { query: createCompletion, variables: { input } },
      { query: 'mutation { createCompletion(input: { model: "m", prompt: { text: "x" } }) { id } }' },
      { documentId: sha256('{ __typename }') },
      // A listed id cannot carry another text.
      { query: '{ __typename }', extensions: persisted(createCompletion) },
    ]) {
      const { status, json } = await post(stubbed, body);
      expect(status).toBe(400);
      expect([
        'PERSISTED_QUERY_ONLY',
        'PERSISTED_QUERY_NOT_FOUND',
        'PERSISTED_QUERY_HASH_MISMATCH',
      ]).toContain(code(json));
    }
    expect(stubbed.stub.hits('/completions') - before).toBe(0);
  });

  it.each([
    ['SSE on /graphql', () => sseClient(stubbed.app.graphqlUrl)],
    ['graphql-sse single connection', () => sseClient(`${stubbed.app.origin}/graphql/stream`, true)],
    ['graphql-ws', () => wsClient(stubbed.app.graphqlUrl)],
  ])('%s: a listed subscription by id streams, a text one is refused', async (_name, makeClient) => {
    const before = stubbed.stub.hits('/completions');
    const client = makeClient();
    try {
      const refused = await client.run(completionStream, { input });
      const first = (refused.events[0] ?? (refused.error as unknown[] | undefined)?.[0]) as
        | { errors?: { extensions?: { code?: string } }[]; extensions?: { code?: string } }
        | undefined;
      expect(first?.errors?.[0]?.extensions?.code ?? first?.extensions?.code).toBe('PERSISTED_QUERY_ONLY');
      expect(stubbed.stub.hits('/completions') - before).toBe(0);
      const streamed = await new Promise<unknown[]>((resolve, reject) => {
        const events: unknown[] = [];
        client.subscribe(
          '',
          { input },
          { next: (e) => events.push(e), error: reject, complete: () => resolve(events) },
          {
            extensions: persisted(completionStream),
          },
        );
      });
      expect(streamed.length).toBeGreaterThan(2);
      expect(stubbed.stub.hits('/completions') - before).toBe(1);
    } finally {
      await client.dispose();
    }
  });
});

describe('automatic persisted queries (TRUSTED_DOCUMENTS_ONLY off)', () => {
  let stubbed: StubbedApp;
  beforeAll(async () => {
    stubbed = await startStubbedApp();
    answerCompletions(stubbed);
  });
  afterAll(() => stopStubbedApp(stubbed));

  it('asks for an unknown document once, learns it, then runs it by hash', async () => {
    const hashOnly = { extensions: persisted(modelsQuery) };
    const unknown = await post(stubbed, hashOnly);
    expect(unknown.json).toMatchObject({
      errors: [{ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } }],
    });
    expect((await post(stubbed, { ...hashOnly, query: modelsQuery })).json).toMatchObject({
      data: { models: [{ id: 'm' }] },
    });
    expect((await post(stubbed, hashOnly)).json).toMatchObject({ data: { models: [{ id: 'm' }] } });
  });

  it('learns only documents that parse and are not huge: junk sent with its hash is not kept', async () => {
    const junk = `#${'x'.repeat(200_000)}`;
    const junkHash = { extensions: persisted(junk) };
    expect(code((await post(stubbed, { ...junkHash, query: junk })).json)).toBe('GRAPHQL_PARSE_FAILED');
    expect(code((await post(stubbed, junkHash)).json)).toBe('PERSISTED_QUERY_NOT_FOUND');
    const broken = '{ models { id }';
    await post(stubbed, { query: broken, extensions: persisted(broken) });
    expect(code((await post(stubbed, { extensions: persisted(broken) })).json)).toBe(
      'PERSISTED_QUERY_NOT_FOUND',
    );
  });

  it('refuses a document that does not match its hash, and still runs plain documents', async () => {
    const mismatch = await post(stubbed, { query: '{ __typename }', extensions: persisted(modelsQuery) });
    expect(code(mismatch.json)).toBe('PERSISTED_QUERY_HASH_MISMATCH');
    expect((await post(stubbed, { query: '{ __typename }' })).json).toMatchObject({
      data: { __typename: 'Query' },
    });
  });
});

describe('the learnt documents, bounded', () => {
  it('keeps their texts under maxLearntChars together, dropping the oldest first', () => {
    const documents = createPersistedDocuments({ maxLearntChars: 100 });
    const docs = [0, 1, 2].map((i) => `{ a${i}: __typename ${' '.repeat(30)}}`);
    for (const doc of docs) documents.resolve({ query: doc, extensions: persisted(doc) });
    const known = docs.map((doc) => 'query' in documents.resolve({ extensions: persisted(doc) }));
    expect(known).toEqual([false, true, true]);
  });
});

describe('configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trusted-docs-'));
  const file = (name: string, body: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, typeof body === 'string' ? body : JSON.stringify(body));
    return path;
  };

  it('reads the client preset’s manifest and Apollo’s, and refuses an id that is not the document’s sha256', () => {
    const preset = file('preset.json', { [id(modelsQuery)]: modelsQuery });
    expect(
      loadConfig({ TRUSTED_DOCUMENTS_FILE: preset, TRUSTED_DOCUMENTS_ONLY: 'true' }).trustedDocuments,
    ).toEqual({
      manifest: new Map([[id(modelsQuery), modelsQuery]]),
      only: true,
    });
    const apollo = file('apollo.json', {
      format: 'apollo-persisted-query-manifest',
      version: 1,
      operations: [{ id: id(modelsQuery), body: modelsQuery, name: 'Models', type: 'query' }],
    });
    expect(
      loadConfig({ TRUSTED_DOCUMENTS_FILE: apollo }).trustedDocuments.manifest.get(id(modelsQuery)),
    ).toBe(modelsQuery);
    const forged = file('forged.json', { [id(modelsQuery)]: createCompletion });
    expect(() => loadConfig({ TRUSTED_DOCUMENTS_FILE: forged })).toThrow(/not the document's sha256/);
    expect(() => loadConfig({ TRUSTED_DOCUMENTS_ONLY: 'true' })).toThrow(ConfigError);
    expect(() => loadConfig({ TRUSTED_DOCUMENTS_FILE: file('bad.json', '{') })).toThrow(/is not JSON/);
  });
});
