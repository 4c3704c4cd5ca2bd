import { ApolloGateway, IntrospectAndCompose } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DocumentsSubgraph, startDocumentsSubgraph } from './documents-subgraph.js';
import {
  type CompletionsSubgraph,
  costDirectives,
  createStoredCompletion,
  documentsJoin,
  expectedCostDirectives,
  finalsDocument,
  postGraphQL,
  recordedCompletion,
  schemaLinks,
  startCompletionsSubgraph,
} from './fixtures.js';

/**
 * Apollo Gateway (IntrospectAndCompose over the subgraphs' `_service { sdl }`) served by Apollo
 * Server on 127.0.0.1, composing the completions subgraph with the test documents subgraph.
 * The tests run in order: the later ones read the completion the second one stores.
 */

let completions: CompletionsSubgraph;
let documents: DocumentsSubgraph;
let server: ApolloServer;
let gatewayUrl: string;
let supergraphSdl = '';

beforeAll(async () => {
  completions = await startCompletionsSubgraph();
  documents = await startDocumentsSubgraph();
  const gateway = new ApolloGateway({
    supergraphSdl: new IntrospectAndCompose({
      subgraphs: [
        { name: 'completions', url: completions.app.graphqlUrl },
        { name: 'documents', url: documents.url },
      ],
    }),
  });
  gateway.onSchemaLoadOrUpdate(({ coreSupergraphSdl }) => {
    supergraphSdl = coreSupergraphSdl;
  });
  server = new ApolloServer({ gateway });
  const { url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' } });
  gatewayUrl = url;
});

afterAll(async () => {
  await server?.stop();
  await documents?.close();
  await completions?.close();
});

describe('Apollo Gateway', () => {
  it('composes a supergraph that keeps @cost and @listSize under the cost spec link', () => {
    // Apollo composition (2.9+) turns the subgraphs' federation `@cost`/`@listSize` into the
    // `cost/v0.1` spec: `@cost` is the spec's own-name directive, `@listSize` is imported.
    expect(schemaLinks(supergraphSdl)).toMatchObject({
      'https://specs.apollo.dev/join/v0.5': [],
      'https://specs.apollo.dev/cost/v0.1': ['@listSize'],
    });
    expect(supergraphSdl).toMatch(/^directive @cost\(weight: Int!\) on /m);
    expect(costDirectives(supergraphSdl)).toEqual(expectedCostDirectives);
    // The documents subgraph's references stay references: only completions resolves them.
    expect(supergraphSdl).toContain('@join__type(graph: DOCUMENTS, key: "id", resolvable: false)');
    expect(supergraphSdl).toMatch(
      /COMPLETIONS @join__graph\(name: "completions", url: "http:\/\/127\.0\.0\.1:/,
    );
  });

  it('creates a stored completion through the gateway and joins documents to it without upstream calls', async () => {
    const created = await postGraphQL(gatewayUrl, createStoredCompletion, { prompt: 'Who won in 2019?' });
    expect(created.json.errors).toBeUndefined();
    const completion = created.json.data.createCompletion;
    expect(completion).toMatchObject({ id: recordedCompletion.id, storedAt: expect.any(String) });
    expect(completions.stub.hits('/completions')).toBe(1);
    expect(completions.stub.requests.at(-1)?.json).toMatchObject({ model: 'gpt-3.5-turbo-instruct' });

    documents.add({ id: 'doc-1', title: 'Finals', completionId: completion.id, modelId: 'davinci-002' });
    const join = await postGraphQL(gatewayUrl, documentsJoin);
    expect(join.json.errors).toBeUndefined();
    expect(join.json.data.documents).toEqual([finalsDocument(completion.storedAt)]);
    // The stored completion is read from SQLite, never the upstream (the model catalog may be read once).
    expect(completions.stub.hits('/completions')).toBe(1);
    const before = completions.stub.requests.length;
    await postGraphQL(gatewayUrl, documentsJoin);
    expect(completions.stub.requests.length).toBe(before);
  });

  it('resolves an unknown completion id to null (and an unknown model to its key only)', async () => {
    documents.clear();
    documents.add({ id: 'doc-2', title: 'Orphan', completionId: 'cmpl-unknown', modelId: 'no-such-model' });
    const { json } = await postGraphQL(gatewayUrl, documentsJoin);
    // `_entities` answers null; the gateway then cannot fill the non-null `model: String!` and
    // nulls the nullable `generatedBy`. Apollo reports that under `extensions.valueCompletion`,
    // not `errors`. A Model keeps the `id` the documents subgraph gave, with nullable fields null.
    expect(json.errors).toBeUndefined();
    expect(json.data.documents).toEqual([
      { title: 'Orphan', generatedBy: null, model: { id: 'no-such-model', ownedBy: null } },
    ]);
    expect(json.extensions.valueCompletion).toEqual([
      expect.objectContaining({
        message: 'Cannot return null for non-nullable field CreateCompletionResponse.model.',
        path: ['documents', 0, 'generatedBy', 'model'],
      }),
    ]);
  });

  it('answers Query.completion through the gateway from storage', async () => {
    const { json } = await postGraphQL(
      gatewayUrl,
      'query ($id: ID!) { completion(id: $id) { id parameters { model prompt { text } } } missing: completion(id: "cmpl-nope") { id } }',
      { id: recordedCompletion.id },
    );
    expect(json.errors).toBeUndefined();
    expect(json.data).toEqual({
      completion: {
        id: recordedCompletion.id,
        parameters: { model: 'gpt-3.5-turbo-instruct', prompt: { text: 'Who won in 2019?' } },
      },
      missing: null,
    });
  });
});
