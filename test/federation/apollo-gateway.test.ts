import { ApolloGateway, IntrospectAndCompose } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DocumentsSubgraph, startDocumentsSubgraph } from './documents-subgraph.js';
import {
  type CompletionsSubgraph,
  createStoredCompletion,
  documentsJoin,
  postGraphQL,
  recordedCompletion,
  startCompletionsSubgraph,
} from './fixtures.js';

/**
 * Apollo Gateway (IntrospectAndCompose over the subgraphs' `_service { sdl }`) served by Apollo
 * Server on 127.0.0.1, composing the completions subgraph with the test documents subgraph.
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
  it('composes a supergraph', () => {
    console.log(supergraphSdl);
    expect(supergraphSdl).toContain('join__Graph');
  });

  it('joins documents to stored completions and models, without calling the upstream again', async () => {
    const created = await postGraphQL(gatewayUrl, createStoredCompletion, { prompt: 'Who won in 2019?' });
    expect(created.json.errors).toBeUndefined();
    const completion = created.json.data.createCompletion;
    expect(completion.id).toBe(recordedCompletion.id);
    expect(completion.storedAt).toEqual(expect.any(String));
    expect(completions.stub.hits('/completions')).toBe(1);

    documents.add({
      id: 'doc-1',
      title: 'Finals',
      completionId: completion.id,
      modelId: 'gpt-3.5-turbo-instruct',
    });
    documents.add({ id: 'doc-2', title: 'Orphan', completionId: 'cmpl-unknown', modelId: 'no-such-model' });
    const join = await postGraphQL(gatewayUrl, documentsJoin);
    console.log(
      JSON.stringify(join.json, null, 1),
      completions.stub.requests.map((r) => r.path),
    );
  });
});
