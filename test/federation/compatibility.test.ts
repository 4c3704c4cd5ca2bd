import { Trace } from '@apollo/usage-reporting-protobuf';
import {
  buildClientSchema,
  type GraphQLSchema,
  getIntrospectionQuery,
  type IntrospectionQuery,
  isObjectType,
  Kind,
  type ObjectTypeDefinitionNode,
  parse,
  print,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CompletionsSubgraph,
  createStoredCompletion,
  recordedCompletion,
  startCompletionsSubgraph,
  upstreamModels,
} from './fixtures.js';

/**
 * The subgraph-side checks of Apollo's federation subgraph compatibility suite
 * (apollographql/apollo-federation-subgraph-compatibility), ported to vitest and run against this
 * subgraph directly: `_service`, `@link`, `@key`, `_entities`, the imported directives and ftv1.
 */

let subgraph: CompletionsSubgraph;
let sdl: string;

const entitiesQuery = /* GraphQL */ `
  query ($representations: [_Any!]!) {
    _entities(representations: $representations) {
      __typename
      ... on Model {
        id
        ownedBy
      }
      ... on CreateCompletionResponse {
        id
        model
        storedAt
        choices {
          text
        }
      }
    }
  }
`;

function objectType(name: string): ObjectTypeDefinitionNode {
  const node = parse(sdl).definitions.find(
    (d): d is ObjectTypeDefinitionNode => d.kind === Kind.OBJECT_TYPE_DEFINITION && d.name.value === name,
  );
  if (node === undefined) throw new Error(`no type ${name} in the SDL`);
  return node;
}

beforeAll(async () => {
  subgraph = await startCompletionsSubgraph();
  const { json } = await subgraph.app.post('{ _service { sdl } }');
  sdl = json.data._service.sdl;
  // One stored completion, for the CreateCompletionResponse entity.
  const created = await subgraph.app.post(createStoredCompletion, { prompt: 'Who won in 2019?' });
  expect(created.json.data.createCompletion.id).toBe(recordedCompletion.id);
});

afterAll(async () => {
  await subgraph?.close();
});

describe('_service', () => {
  it('pins Federation v2.9 with @link and imports exactly the directives it uses', () => {
    const schemaExtension = parse(sdl).definitions.find((d) => d.kind === Kind.SCHEMA_EXTENSION);
    expect(schemaExtension && print(schemaExtension)).toBe(
      'extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key", "@shareable", "@inaccessible", "@tag", "@cost", "@listSize"])',
    );
  });

  it('leaves the federation machinery (_Any, _Entity, _service, _entities) out of the SDL', () => {
    expect(sdl).not.toMatch(/\b(scalar _Any|union _Entity|type _Service|_entities\(|_service:)/);
  });

  it('puts @key(fields: "id") on each entity, over a non-null id', () => {
    for (const name of ['Model', 'CreateCompletionResponse']) {
      const type = objectType(name);
      expect(type.directives?.map((d) => print(d))).toEqual(['@key(fields: "id")']);
      const id = type.fields?.find((f) => f.name.value === 'id');
      expect(id && print(id.type)).toBe('ID!');
    }
    const keyed = parse(sdl).definitions.filter(
      (d) => d.kind === Kind.OBJECT_TYPE_DEFINITION && d.directives?.some((x) => x.name.value === 'key'),
    );
    expect(keyed.map((d) => (d as ObjectTypeDefinitionNode).name.value).sort()).toEqual([
      'CreateCompletionResponse',
      'Model',
    ]);
  });

  it('applies only imported federation directives (@shareable, @inaccessible, @tag imported, unused)', () => {
    const applied = new Map<string, number>();
    const count = (name: string) => applied.set(name, (applied.get(name) ?? 0) + 1);
    for (const definition of parse(sdl).definitions) {
      if (definition.kind !== Kind.OBJECT_TYPE_DEFINITION) continue;
      for (const d of definition.directives ?? []) count(d.name.value);
      for (const field of definition.fields ?? [])
        for (const d of field.directives ?? []) count(d.name.value);
    }
    // Today: 2 entities with @key, 2 paid fields with @cost, 3 lists with @listSize. @shareable,
    // @inaccessible and @tag are imported for later use; nothing is hidden or shared yet.
    expect(Object.fromEntries(applied)).toEqual({ key: 2, cost: 2, listSize: 3 });
  });

  it('serves a full introspection that builds a client schema with the _Entity union', async () => {
    const { json } = await subgraph.app.post(getIntrospectionQuery());
    expect(json.errors).toBeUndefined();
    const schema = buildClientSchema(json.data as IntrospectionQuery);
    const entity = schema.getType('_Entity');
    expect(entity && 'getTypes' in entity ? entity.getTypes().map((t) => t.name) : []).toEqual([
      'CreateCompletionResponse',
      'Model',
    ]);
    expect(Object.keys(schema.getQueryType()?.getFields() ?? {})).toEqual(
      expect.arrayContaining(['_entities', '_service', 'models', 'completion']),
    );
  });
});

describe('_entities', () => {
  // Single-type batches are covered by test/e2e/federation.test.ts (Model) and
  // test/e2e/stored-completions.test.ts (CreateCompletionResponse); the suite's check is the mix.
  it('resolves both entity types mixed in one request, in order, unknown ids to null, from storage', async () => {
    const before = subgraph.stub.hits('/completions');
    const { json } = await subgraph.app.post(entitiesQuery, {
      representations: [
        { __typename: 'CreateCompletionResponse', id: recordedCompletion.id },
        { __typename: 'Model', id: upstreamModels.data[1]?.id },
        { __typename: 'CreateCompletionResponse', id: 'cmpl-missing' },
        { __typename: 'Model', id: 'missing-model' },
        { __typename: 'Model', id: upstreamModels.data[0]?.id },
        { __typename: 'CreateCompletionResponse', id: recordedCompletion.id },
      ],
    });
    expect(json.errors).toBeUndefined();
    const stored = {
      __typename: 'CreateCompletionResponse',
      id: recordedCompletion.id,
      model: recordedCompletion.model,
      storedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      choices: [{ text: recordedCompletion.text }],
    };
    expect(json.data._entities).toEqual([
      stored,
      { __typename: 'Model', id: 'davinci-002', ownedBy: 'system' },
      null,
      null,
      { __typename: 'Model', id: 'gpt-3.5-turbo-instruct', ownedBy: 'system' },
      stored,
    ]);
    // Stored completions are read back, never generated again.
    expect(subgraph.stub.hits('/completions')).toBe(before);
  });

  it('refuses a representation of a type that is not an entity here', async () => {
    const { json } = await subgraph.app.post(entitiesQuery, {
      representations: [{ __typename: 'Document', id: 'doc-1' }],
    });
    expect(json.data?._entities ?? [null]).toEqual([null]);
    expect(json.errors).toHaveLength(1);
  });
});

describe('federated tracing (ftv1)', () => {
  const query = '{ model(id: "davinci-002") { id ownedBy } }';

  it('adds extensions.ftv1, a base64 Trace covering the resolved fields, when the gateway asks', async () => {
    const { json } = await subgraph.app.post(query, undefined, { 'apollo-federation-include-trace': 'ftv1' });
    expect(json.errors).toBeUndefined();
    expect(json.data.model).toEqual({ id: 'davinci-002', ownedBy: 'system' });
    const ftv1: unknown = json.extensions?.ftv1;
    expect(ftv1).toEqual(expect.stringMatching(/^[A-Za-z0-9+/]+=*$/));
    const trace = Trace.decode(Buffer.from(ftv1 as string, 'base64'));
    expect(Number(trace.durationNs)).toBeGreaterThan(0);
    expect(Number(trace.startTime?.seconds)).toBeGreaterThan(Date.now() / 1000 - 60);
    const model = trace.root?.child?.find((node) => node.responseName === 'model');
    expect(model).toMatchObject({ type: 'Model', parentType: 'Query' });
    expect(model?.child?.map((node) => node.responseName).sort()).toEqual(['id', 'ownedBy']);
  });

  it('adds no trace without the header', async () => {
    const { json } = await subgraph.app.post(query);
    expect(json.data.model.id).toBe('davinci-002');
    expect(json.extensions?.ftv1).toBeUndefined();
  });

  it('times fields on a copy of the schema: the served resolvers stay unwrapped, untraced calls stay on the fast route', async () => {
    const traced = await subgraph.app.post(query, undefined, { 'apollo-federation-include-trace': 'ftv1' });
    expect(traced.json.extensions?.ftv1).toEqual(expect.any(String));
    // The tracing plugin marks each field it wraps; none of the schema every other request runs.
    const { app } = subgraph.app;
    const served: GraphQLSchema = app.yoga.getEnveloped({}).schema;
    const wrapped = Object.values(served.getTypeMap()).flatMap((type) =>
      isObjectType(type)
        ? Object.values(type.getFields()).filter((field) =>
            Object.getOwnPropertySymbols(field).some((symbol) => symbol.description === 'hasWrappedResolve'),
          )
        : [],
    );
    expect(wrapped.map((field) => field.name)).toEqual([]);
    const before = app.served.jsonRoute;
    const { json } = await subgraph.app.post(query);
    expect(json).toEqual({
      data: { model: { id: 'davinci-002', ownedBy: 'system' } },
      extensions: expect.any(Object),
    });
    expect(app.served.jsonRoute).toBe(before + 1);
  });
});
