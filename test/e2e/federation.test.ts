import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reply, type StubUpstream } from '../helpers/stub-upstream.js';
import { startStubbedApp, stopStubbedApp, type TestApp } from '../helpers/test-app.js';

/** The subgraph side of Federation v2: `_service { sdl }` and `_entities` for Model. */

let stub: StubUpstream;
let app: TestApp;

const models = {
  object: 'list',
  data: [
    { id: 'gpt-3.5-turbo-instruct', object: 'model', created: 1692901427, owned_by: 'system' },
    { id: 'davinci-002', object: 'model', created: 1692634301, owned_by: 'system' },
    { id: 'local-llama' },
  ],
};

beforeAll(async () => {
  ({ stub, app } = await startStubbedApp());
  stub.on('GET', '/models', reply.json(200, models));
});

afterAll(() => stopStubbedApp({ stub, app }));

describe('federation', () => {
  it('_service { sdl } carries the @link and the Model @key', async () => {
    const { json } = await app.post('{ _service { sdl } }');
    const sdl: string = json.data._service.sdl;
    expect(sdl).toMatch(
      /@link\(url: "https:\/\/specs\.apollo\.dev\/federation\/v2\.\d+", import: \[[^\]]*"@key"/,
    );
    expect(sdl).toMatch(/type Model\s+@key\(fields: "id"\)/);
  });

  it('_entities resolves several Model representations, null for an unknown id', async () => {
    const { json } = await app.post(
      `query ($representations: [_Any!]!) { _entities(representations: $representations) { __typename ... on Model { id ownedBy created } } }`,
      {
        representations: [
          { __typename: 'Model', id: 'davinci-002' },
          { __typename: 'Model', id: 'no-such-model' },
          { __typename: 'Model', id: 'gpt-3.5-turbo-instruct' },
        ],
      },
    );
    expect(json.errors).toBeUndefined();
    expect(json.data._entities).toEqual([
      { __typename: 'Model', id: 'davinci-002', ownedBy: 'system', created: 1692634301 },
      null,
      { __typename: 'Model', id: 'gpt-3.5-turbo-instruct', ownedBy: 'system', created: 1692901427 },
    ]);
  });

  it('Query.models and Query.model read the upstream list once, with missing fields as null', async () => {
    const before = stub.hits('/models');
    const { json } = await app.post(
      '{ models { id object ownedBy created } model(id: "local-llama") { id ownedBy } missing: model(id: "nope") { id } }',
    );
    expect(json.data.models).toHaveLength(3);
    expect(json.data.model).toEqual({ id: 'local-llama', ownedBy: null });
    expect(json.data.missing).toBeNull();
    // The catalog is cached: the earlier test already fetched it.
    expect(stub.hits('/models') - before).toBe(0);
  });
});
