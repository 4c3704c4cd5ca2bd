import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ClientAuthenticator, hashToken } from '../../src/auth/client-keys.js';
import { createStorage, type Storage } from '../../src/storage/index.js';
import { sseClient } from '../helpers/clients.js';
import { completionStream, createCompletion } from '../helpers/operations.js';
import { recorded } from '../helpers/recorded.js';
import { reply, type StubUpstream, startStubUpstream } from '../helpers/stub-upstream.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createPgSchema, type PgSchema } from '../storage/pg-schema.js';

/**
 * input.store, Query.completion and the CreateCompletionResponse entity, on SQLite and (with
 * TEST_DATABASE_URL, as .ci/run sets) on PostgreSQL, in a schema of this run's own. Reading a
 * stored completion never calls the upstream, and a client reads only what it stored itself.
 */

const dir = mkdtempSync(join(tmpdir(), 'completions-store-'));
let stub: StubUpstream;

beforeAll(async () => {
  stub = await startStubUpstream();
});

// Tests that script other answers need not restore this one.
beforeEach(() => {
  stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
});

afterAll(async () => {
  await stub.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Location {
  sqlitePath: string;
  databaseUrl?: string;
}

const databaseUrl = process.env.TEST_DATABASE_URL;
const schemas: PgSchema[] = [];
afterAll(() => Promise.all(schemas.map((schema) => schema.drop())));

const dialects: [string, () => Promise<Location>][] = [
  ['SQLite', async () => ({ sqlitePath: join(dir, 'store.sqlite') })],
];
if (databaseUrl)
  dialects.push([
    'PostgreSQL',
    async () => {
      const schema = await createPgSchema(databaseUrl, 'stored_e2e');
      schemas.push(schema);
      return { sqlitePath: join(dir, 'unused.sqlite'), databaseUrl: schema.url };
    },
  ]);

const aliceToken = 'ck-alice-stored-completions';
const bobToken = 'ck-bob-stored-completions';
const authenticator = new ClientAuthenticator([
  { name: 'alice', sha256: hashToken(aliceToken) },
  { name: 'bob', sha256: hashToken(bobToken) },
]);
const alice = { authorization: `Bearer ${aliceToken}` };
const bob = { authorization: `Bearer ${bobToken}` };

/** The recorded upstream answer with another id and text: what a compatible server might send. */
function upstreamBody(id: string, text = '\n\nThe Toronto Raptors won the 2019 NBA Finals.') {
  const body = JSON.parse(recorded('openai-nonstream-basic.json')) as { choices: { text: string }[] };
  return { ...body, id, choices: [{ ...body.choices[0], text }] };
}

const createStored = createCompletion.replace('usage {', 'storedAt usage {');
const entities = `query ($r: [_Any!]!) { _entities(representations: $r) { ... on CreateCompletionResponse { id storedAt choices { text } } } }`;
const references = (...ids: string[]) => ({
  r: ids.map((id) => ({ __typename: 'CreateCompletionResponse', id })),
});

const readBack = `query ($id: ID!) { completion(id: $id) { id model storedAt choices { text finishReason } usage { totalTokens } parameters { model maxTokens temperature prompt { text texts } } } }`;
const input = {
  model: 'gpt-3.5-turbo-instruct',
  prompt: { text: 'Who won the 2019 NBA Finals?' },
  maxTokens: 20,
  temperature: 0.5,
};

describe.each(dialects)('%s', (_name, options) => {
  let storage: Storage;
  let app: TestApp;
  /** The same storage behind a service with client keys. */
  let keyed: TestApp;
  let location: Location;

  beforeAll(async () => {
    location = await options();
    storage = await createStorage(location);
    app = await startTestApp({ upstream: { baseUrl: stub.baseUrl }, app: { storage } });
    keyed = await startTestApp({ upstream: { baseUrl: stub.baseUrl }, app: { storage, authenticator } });
  });

  afterAll(async () => {
    await keyed.close();
    await app.close();
    await storage.close();
  });

  it('two clients storing the same upstream id (Ollama-style cmpl-7) each keep and read their own', async () => {
    stub.on(
      'POST',
      '/completions',
      reply.json(200, upstreamBody('cmpl-7', "Alice's answer")),
      reply.json(200, upstreamBody('cmpl-7', "Bob's answer")),
    );
    const a = await keyed.post(createStored, { input: { ...input, store: true } }, alice);
    const b = await keyed.post(createStored, { input: { ...input, store: true } }, bob);
    for (const created of [a, b]) {
      expect(created.json.errors).toBeUndefined();
      expect(created.json.extensions?.warnings).toBeUndefined();
      expect(created.json.data.createCompletion).toMatchObject({
        id: 'cmpl-7',
        storedAt: expect.any(String),
      });
    }
    const read = async (who: Record<string, string>) =>
      (await keyed.post(readBack, { id: 'cmpl-7' }, who)).json.data.completion.choices[0].text;
    expect(await read(alice)).toBe("Alice's answer");
    expect(await read(bob)).toBe("Bob's answer");
    const viaEntities = await keyed.post(entities, references('cmpl-7'), bob);
    expect(viaEntities.json.data._entities).toEqual([
      { id: 'cmpl-7', storedAt: b.json.data.createCompletion.storedAt, choices: [{ text: "Bob's answer" }] },
    ]);
    // The open service is the anonymous client: neither keyed client's record is its own.
    expect((await app.post(readBack, { id: 'cmpl-7' })).json.data.completion).toBeNull();
  });

  it("answers another client's id with null through completion(id) and _entities, as for an unknown id", async () => {
    stub.on('POST', '/completions', reply.json(200, upstreamBody('cmpl-alice-only', 'private')));
    await keyed.post(createCompletion, { input: { ...input, store: true } }, alice);
    const before = stub.hits();
    // One request id for both probes, so that their answers can be compared byte for byte.
    const probe = { ...bob, 'x-request-id': 'probe-1' };
    const foreign = await keyed.post(readBack, { id: 'cmpl-alice-only' }, probe);
    const unknown = await keyed.post(readBack, { id: 'cmpl-no-such-id' }, probe);
    expect(foreign.json).toEqual({ data: { completion: null }, extensions: { requestId: 'probe-1' } });
    // No existence oracle: the same answer, byte for byte, whether the id exists for someone else.
    expect(foreign.text).toBe(unknown.text);
    const batch = await keyed.post(entities, references('cmpl-alice-only', 'cmpl-no-such-id'), bob);
    expect(batch.json).toMatchObject({ data: { _entities: [null, null] } });
    const own = await keyed.post(entities, references('cmpl-alice-only', 'cmpl-no-such-id'), alice);
    expect(own.json.data._entities.map((e: { id: string } | null) => e?.id ?? null)).toEqual([
      'cmpl-alice-only',
      null,
    ]);
    expect(stub.hits() - before).toBe(0);
  });

  it('a client repeating an id gets the completion with storedAt null and a STORE_CONFLICT warning; the first record stays', async () => {
    stub.on(
      'POST',
      '/completions',
      reply.json(200, upstreamBody('cmpl-repeat', 'first')),
      reply.json(200, upstreamBody('cmpl-repeat', 'second')),
    );
    const first = await keyed.post(createStored, { input: { ...input, store: true } }, alice);
    expect(first.json.extensions?.warnings).toBeUndefined();
    const second = await keyed.post(createStored, { input: { ...input, store: true } }, alice);
    expect(second.json.errors).toBeUndefined();
    expect(second.json.data.createCompletion).toMatchObject({
      id: 'cmpl-repeat',
      storedAt: null,
      choices: [{ text: 'second' }],
    });
    expect(second.json.extensions.warnings).toEqual([
      { code: 'STORE_CONFLICT', message: expect.stringContaining('not stored') },
    ]);
    const { json } = await keyed.post(readBack, { id: 'cmpl-repeat' }, alice);
    expect(json.data.completion).toMatchObject({
      storedAt: first.json.data.createCompletion.storedAt,
      choices: [{ text: 'first' }],
    });
    // Another client with the same id is no conflict.
    const other = await keyed.post(createStored, { input: { ...input, store: true } }, bob);
    expect(other.json.data.createCompletion.storedAt).toEqual(expect.any(String));
    expect(other.json.extensions?.warnings).toBeUndefined();
  });

  it('stores with store: true and reads back by id, with parameters, without calling the upstream', async () => {
    const created = await app.post(createCompletion.replace('usage {', 'storedAt usage {'), {
      input: { ...input, store: true },
    });
    const id = created.json.data.createCompletion.id;
    expect(created.json.data.createCompletion.storedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    const before = stub.hits();
    const { json } = await app.post(readBack, { id });
    expect(json.data.completion).toMatchObject({
      id,
      model: 'gpt-3.5-turbo-instruct:20230824-v2',
      choices: [{ text: '\n\nThe Toronto Raptors won the 2019 NBA Finals.', finishReason: 'STOP' }],
      usage: { totalTokens: 22 },
      parameters: {
        model: 'gpt-3.5-turbo-instruct',
        maxTokens: 20,
        temperature: 0.5,
        prompt: { text: 'Who won the 2019 NBA Finals?', texts: null },
      },
    });
    expect(stub.hits() - before).toBe(0);
  });

  it('does not store without store: true', async () => {
    stub.on(
      'POST',
      '/completions',
      reply.json(200, {
        ...(JSON.parse(recorded('openai-nonstream-basic.json')) as object),
        id: 'cmpl-not-stored',
      }),
    );
    await app.post(createCompletion, { input });
    expect((await app.post(readBack, { id: 'cmpl-not-stored' })).json.data.completion).toBeNull();
    stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
  });

  it('resolves _entities for several stored completions in one batch, null for unknown ids, 0 upstream calls', async () => {
    const ids: string[] = [];
    for (const id of ['cmpl-entity-a', 'cmpl-entity-b']) {
      stub.on(
        'POST',
        '/completions',
        reply.json(200, { ...(JSON.parse(recorded('openai-nonstream-basic.json')) as object), id }),
      );
      await app.post(createCompletion, { input: { ...input, store: true } });
      ids.push(id);
    }
    const before = stub.hits();
    const { json } = await app.post(
      `query ($r: [_Any!]!) { _entities(representations: $r) { __typename ... on CreateCompletionResponse { id choices { text } } } }`,
      {
        r: [
          { __typename: 'CreateCompletionResponse', id: 'cmpl-entity-b' },
          { __typename: 'CreateCompletionResponse', id: 'cmpl-missing' },
          { __typename: 'CreateCompletionResponse', id: 'cmpl-entity-a' },
        ],
      },
    );
    expect(json.errors).toBeUndefined();
    expect(json.data._entities.map((e: { id: string } | null) => e?.id ?? null)).toEqual([
      'cmpl-entity-b',
      null,
      'cmpl-entity-a',
    ]);
    expect(stub.hits() - before).toBe(0);
  });

  it('stores a streamed completion once it has ended, assembled', async () => {
    stub.on('POST', '/completions', reply.recorded('openai-stream-basic.sse'));
    const client = sseClient(app.graphqlUrl);
    const { events } = await client.run(completionStream, { input: { ...input, store: true } });
    await client.dispose();
    const id = events[0].data.completionStream.id;
    await expect
      .poll(async () => (await app.post(readBack, { id })).json.data.completion?.choices)
      .toEqual([{ text: 'The answer is 4.', finishReason: 'STOP' }]);
    stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
  });

  it('keeps everything across a restart', async () => {
    stub.on(
      'POST',
      '/completions',
      reply.json(200, {
        ...(JSON.parse(recorded('openai-nonstream-basic.json')) as object),
        id: 'cmpl-survivor',
      }),
    );
    await app.post(createCompletion, { input: { ...input, store: true } });
    await app.close();
    await storage.close();
    storage = await createStorage(location);
    app = await startTestApp({ upstream: { baseUrl: stub.baseUrl }, app: { storage } });
    const { json } = await app.post(readBack, { id: 'cmpl-survivor' });
    expect(json.data.completion.choices[0].text).toBe('\n\nThe Toronto Raptors won the 2019 NBA Finals.');
    stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
  });
});

describe('a failing store', () => {
  it('still returns the paid completion, with a STORE_FAILED warning in extensions', async () => {
    const storage = await createStorage({ sqlitePath: ':memory:' });
    const broken: Storage = {
      ...storage,
      completions: { ...storage.completions, save: async () => Promise.reject(new Error('disk full')) },
    };
    const app = await startTestApp({ upstream: { baseUrl: stub.baseUrl }, app: { storage: broken } });
    const { json } = await app.post(createCompletion, { input: { ...input, store: true } });
    expect(json.data.createCompletion.choices[0].text).toBe(
      '\n\nThe Toronto Raptors won the 2019 NBA Finals.',
    );
    expect(json.extensions.warnings).toEqual([
      { code: 'STORE_FAILED', message: expect.stringContaining('could not be stored') },
    ]);
    expect(JSON.stringify(json)).not.toContain('disk full');
    await app.close();
    await storage.close();
  });
});
