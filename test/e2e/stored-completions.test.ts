import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorage, type Storage } from '../../src/storage/index.js';
import { sseClient } from '../helpers/clients.js';
import { completionStream, createCompletion } from '../helpers/operations.js';
import { recorded } from '../helpers/recorded.js';
import { reply, type StubUpstream, startStubUpstream } from '../helpers/stub-upstream.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * input.store, Query.completion and the CreateCompletionResponse entity, on SQLite and (with
 * TEST_DATABASE_URL, as .ci/run sets) on PostgreSQL. Reading a stored completion never calls the upstream.
 */

const dir = mkdtempSync(join(tmpdir(), 'completions-store-'));
let stub: StubUpstream;

beforeAll(async () => {
  stub = await startStubUpstream();
  stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
});

afterAll(async () => {
  await stub.close();
  rmSync(dir, { recursive: true, force: true });
});

const databaseUrl = process.env.TEST_DATABASE_URL;
const dialects: [string, () => { sqlitePath: string; databaseUrl?: string }][] = [
  ['SQLite', () => ({ sqlitePath: join(dir, `store-${Date.now()}.sqlite`) })],
];
if (databaseUrl)
  dialects.push(['PostgreSQL', () => ({ sqlitePath: join(dir, 'unused.sqlite'), databaseUrl })]);

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
  let location: { sqlitePath: string; databaseUrl?: string };

  beforeAll(async () => {
    location = options();
    storage = await createStorage(location);
    app = await startTestApp({ upstream: { baseUrl: stub.baseUrl }, app: { storage } });
  });

  afterAll(async () => {
    await app.close();
    await storage.close();
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
