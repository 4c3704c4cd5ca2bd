import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, configDefaults, loadConfig } from '../../src/config.js';
import { createStorage, type Storage } from '../../src/storage/index.js';
import { type StubbedApp, startStubbedApp, stopStubbedApp } from '../helpers/test-app.js';

/**
 * `_entities` takes at most MAX_ENTITY_REPRESENTATIONS representations per operation (3 here),
 * counted over every `_entities` field, inline or from variables, and refused before any resolver
 * (so before any storage read) with TOO_MANY_ENTITIES.
 */

const max = 3;
let storage: Storage;
let stubbed: StubbedApp;
let storageReads = 0;

beforeAll(async () => {
  storage = await createStorage({ sqlitePath: ':memory:' });
  const completions = storage.completions;
  const counted: Storage = {
    ...storage,
    completions: {
      ...completions,
      getMany: (client, ids) => {
        storageReads += 1;
        return completions.getMany(client, ids);
      },
    },
  };
  stubbed = await startStubbedApp({
    app: { storage: counted, limits: { ...configDefaults.limits, maxEntityRepresentations: max } },
  });
});

afterAll(async () => {
  await stopStubbedApp(stubbed);
  await storage.close();
});

const ref = (n: number) => ({ __typename: 'CreateCompletionResponse', id: `cmpl-${n}` });
const refs = (count: number) => Array.from({ length: count }, (_, i) => ref(i));
const literal = (count: number) =>
  `[${refs(count)
    .map((r) => `{ __typename: "${r.__typename}", id: "${r.id}" }`)
    .join(', ')}]`;
const viaVariable = `query ($r: [_Any!]!) { _entities(representations: $r) { __typename } }`;

async function expectRefused(
  query: string,
  variables: Record<string, unknown> | undefined,
  representations: number,
) {
  const before = storageReads;
  const { status, json } = await stubbed.app.post(query, variables);
  expect(status).toBe(400);
  expect(json.data).toBeUndefined();
  expect(json.errors).toEqual([
    {
      message: `This operation passes ${representations} representations to _entities; at most ${max} are allowed in one operation.`,
      extensions: { code: 'TOO_MANY_ENTITIES', representations, maxRepresentations: max },
    },
  ]);
  expect(storageReads).toBe(before);
}

describe('the _entities representation cap', () => {
  it('refuses more representations than the cap passed in a variable, before any storage read', async () => {
    await expectRefused(viaVariable, { r: refs(max + 1) }, max + 1);
  });

  it('refuses them inline, as list items that are variables, and spread over aliased fields and fragments', async () => {
    await expectRefused(`{ _entities(representations: ${literal(max + 1)}) { __typename } }`, undefined, 4);
    await expectRefused(
      `query ($a: _Any!, $b: _Any!) { _entities(representations: [$a, $b, $a, $b]) { __typename } }`,
      { a: ref(1), b: ref(2) },
      4,
    );
    await expectRefused(
      `query ($r: [_Any!]!) { one: _entities(representations: $r) { __typename } ...More }
       fragment More on Query { two: _entities(representations: $r) { __typename } ... on Query { three: _entities(representations: ${literal(1)}) { __typename } } }`,
      { r: refs(2) },
      5,
    );
    // A default value counts like a sent one.
    await expectRefused(
      `query ($r: [_Any!]! = ${literal(max + 2)}) { _entities(representations: $r) { __typename } }`,
      undefined,
      max + 2,
    );
  });

  it('answers up to the cap as before, unknown ids as null', async () => {
    const { json } = await stubbed.app.post(viaVariable, { r: refs(max) });
    expect(json.errors).toBeUndefined();
    expect(json.data._entities).toEqual([null, null, null]);
  });

  it('gives legacy application/json clients (gateways) the same refusal with status 200', async () => {
    const response = await fetch(stubbed.app.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ query: viaVariable, variables: { r: refs(max + 1) } }),
    });
    expect(response.status).toBe(200);
    const json = (await response.json()) as { errors: { extensions: { code: string } }[] };
    expect(json.errors.map((e) => e.extensions.code)).toEqual(['TOO_MANY_ENTITIES']);
  });
});

describe('MAX_ENTITY_REPRESENTATIONS', () => {
  it.each([
    ['a number', [42], 'representations[0]'],
    ['a list', [[ref(1)]], 'representations[0]'],
    ['no __typename', [{ id: 'cmpl-1' }], 'representations[0].__typename'],
    ['a type that is no entity', [ref(1), { __typename: 'Query' }], 'representations[1].__typename'],
    ['an unknown type', [{ __typename: 'Nope', id: '1' }], 'representations[0].__typename'],
    ['a prototype name', [{ __typename: '__proto__', id: '1' }], 'representations[0].__typename'],
    ['toString', [{ __typename: 'toString', id: '1' }], 'representations[0].__typename'],
    ['no key', [{ __typename: 'CreateCompletionResponse' }], 'representations[0]'],
    [
      'an object as the id',
      [ref(1), { __typename: 'CreateCompletionResponse', id: { a: 1 } }],
      'representations[1]',
    ],
    ['true as the id', [{ __typename: 'Model', id: true }], 'representations[0]'],
  ])(
    'refuses %s as a representation: BAD_USER_INPUT naming it, before any storage read',
    async (_, r, argument) => {
      const before = storageReads;
      const { status, json } = await stubbed.app.post(viaVariable, { r });
      expect(status).toBe(400);
      expect(json.data).toBeUndefined();
      expect(json.errors).toHaveLength(1);
      expect(json.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument });
      expect(json.errors[0].message).toMatch(/^representations\[\d\]/);
      expect(storageReads).toBe(before);
    },
  );

  it('checks representations written in the document too; an ID is a string, as the subgraph sends it', async () => {
    const inline = await stubbed.app.post(
      '{ _entities(representations: [{ __typename: "Nope" }]) { __typename } }',
    );
    expect(inline.json.errors[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      argument: 'representations[0].__typename',
    });
    const numeric = await stubbed.app.post(viaVariable, { r: [{ __typename: 'Model', id: 5 }] });
    expect(numeric.json.errors[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      argument: 'representations[0]',
    });
    expect(numeric.json.errors[0].message).toBe('representations[0] must hold the key of Model (id: ID).');
  });

  it('defaults to 1000 and accepts a whole number from 1', () => {
    expect(configDefaults.limits.maxEntityRepresentations).toBe(1_000);
    expect(loadConfig({}).limits.maxEntityRepresentations).toBe(1_000);
    expect(loadConfig({ MAX_ENTITY_REPRESENTATIONS: '25' }).limits.maxEntityRepresentations).toBe(25);
    for (const bad of ['0', '-1', '2.5', 'many']) {
      expect(() => loadConfig({ MAX_ENTITY_REPRESENTATIONS: bad })).toThrow(ConfigError);
    }
  });
});
