import { ApolloGateway, IntrospectAndCompose, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientAuthenticator, hashToken } from '../../src/auth/client-keys.js';
import { type DocumentsSubgraph, startDocumentsSubgraph } from './documents-subgraph.js';
import {
  type CompletionsSubgraph,
  createStoredCompletion,
  documentsJoin,
  finalsDocument,
  postGraphQL,
  recordedCompletion,
  startCompletionsSubgraph,
} from './fixtures.js';

/**
 * The identity rule for gateways: the gateway forwards each client's own `Authorization` header
 * on every fetch it makes to this subgraph (entity fetches of a query plan included), so a client
 * reaches only its own stored completions through the supergraph as it does directly. The
 * gateway's own key serves only composition (`_service { sdl }`) and names a client like any other.
 * The stub upstream answers every call with the same completion id, as a compatible server may.
 */

const tokens = { alice: 'ck-alice-federated', bob: 'ck-bob-federated', gateway: 'ck-gateway-compose' };
const authenticator = new ClientAuthenticator(
  Object.entries(tokens).map(([name, token]) => ({ name, sha256: hashToken(token) })),
);
const as = (name: keyof typeof tokens) => ({ authorization: `Bearer ${tokens[name]}` });

interface GatewayContext {
  authorization?: string;
}

let completions: CompletionsSubgraph;
let documents: DocumentsSubgraph;
let server: ApolloServer<GatewayContext>;
let gatewayUrl: string;

beforeAll(async () => {
  completions = await startCompletionsSubgraph({ authenticator });
  documents = await startDocumentsSubgraph();
  const gateway = new ApolloGateway({
    supergraphSdl: new IntrospectAndCompose({
      subgraphs: [
        { name: 'completions', url: completions.app.graphqlUrl },
        { name: 'documents', url: documents.url },
      ],
      introspectionHeaders: as('gateway'),
    }),
    buildService: ({ url }) =>
      new RemoteGraphQLDataSource<GatewayContext>({
        url,
        willSendRequest({ request, context }) {
          if (context.authorization) request.http?.headers.set('authorization', context.authorization);
        },
      }),
  });
  server = new ApolloServer<GatewayContext>({ gateway });
  const { url } = await startStandaloneServer(server, {
    listen: { port: 0, host: '127.0.0.1' },
    context: async ({ req }) =>
      req.headers.authorization === undefined ? {} : { authorization: req.headers.authorization },
  });
  gatewayUrl = url;
});

afterAll(async () => {
  await server?.stop();
  await documents?.close();
  await completions?.close();
});

const readCompletion = 'query ($id: ID!) { completion(id: $id) { id storedAt } }';

describe('Apollo Gateway forwarding the client’s Authorization header', () => {
  let aliceStoredAt: string;

  it('stores a completion as the client whose key the gateway forwarded', async () => {
    const created = await postGraphQL(
      gatewayUrl,
      createStoredCompletion,
      { prompt: 'Alice asks' },
      as('alice'),
    );
    expect(created.json.errors).toBeUndefined();
    expect(created.json.data.createCompletion).toMatchObject({
      id: recordedCompletion.id,
      storedAt: expect.any(String),
    });
    aliceStoredAt = created.json.data.createCompletion.storedAt;
    expect(completions.stub.hits('/completions')).toBe(1);
    documents.add({
      id: 'doc-1',
      title: 'Finals',
      completionId: recordedCompletion.id,
      modelId: 'davinci-002',
    });
  });

  it('resolves the entity reference for its owner and null for another client', async () => {
    const own = await postGraphQL(gatewayUrl, documentsJoin, undefined, as('alice'));
    expect(own.json.errors).toBeUndefined();
    expect(own.json.data.documents).toEqual([finalsDocument(aliceStoredAt)]);

    const foreign = await postGraphQL(gatewayUrl, documentsJoin, undefined, as('bob'));
    expect(foreign.json.errors).toBeUndefined();
    expect(foreign.json.data.documents).toEqual([
      { title: 'Finals', generatedBy: null, model: { id: 'davinci-002', ownedBy: 'system' } },
    ]);
    // The gateway's own key reads nothing of the clients' either.
    const gateway = await postGraphQL(gatewayUrl, documentsJoin, undefined, as('gateway'));
    expect(gateway.json.data.documents[0].generatedBy).toBeNull();
    expect(completions.stub.hits('/completions')).toBe(1);
  });

  it('answers Query.completion through the gateway only for the owner', async () => {
    const own = await postGraphQL(gatewayUrl, readCompletion, { id: recordedCompletion.id }, as('alice'));
    expect(own.json.data.completion).toEqual({ id: recordedCompletion.id, storedAt: aliceStoredAt });
    const foreign = await postGraphQL(gatewayUrl, readCompletion, { id: recordedCompletion.id }, as('bob'));
    expect(foreign.json).toMatchObject({ data: { completion: null } });
    expect(foreign.json.errors).toBeUndefined();
  });

  it('refuses a request without a key at the subgraph: nothing of the record comes back', async () => {
    const { json } = await postGraphQL(gatewayUrl, documentsJoin);
    expect(json.data.documents).toEqual([
      { title: 'Finals', generatedBy: null, model: { id: 'davinci-002', ownedBy: null } },
    ]);
    // Both fetches to the completions subgraph (the completion and the model) were refused.
    expect(json.errors.map((e: { extensions: { code: string } }) => e.extensions.code)).toEqual([
      'UNAUTHENTICATED',
      'UNAUTHENTICATED',
    ]);
    expect(JSON.stringify(json)).not.toContain(recordedCompletion.text.trim());
  });

  it('lets another client store the same upstream id as its own record, leaving the first one alone', async () => {
    const created = await postGraphQL(gatewayUrl, createStoredCompletion, { prompt: 'Bob asks' }, as('bob'));
    expect(created.json.errors).toBeUndefined();
    const bobStoredAt: string = created.json.data.createCompletion.storedAt;
    expect(bobStoredAt).toEqual(expect.any(String));
    expect(created.json.extensions?.warnings).toBeUndefined();

    const bobs = await postGraphQL(gatewayUrl, documentsJoin, undefined, as('bob'));
    expect(bobs.json.data.documents).toEqual([finalsDocument(bobStoredAt)]);
    const parameters = 'query ($id: ID!) { completion(id: $id) { parameters { prompt { text } } } }';
    const read = async (name: 'alice' | 'bob') =>
      (await postGraphQL(gatewayUrl, parameters, { id: recordedCompletion.id }, as(name))).json.data
        .completion.parameters.prompt.text;
    expect(await read('alice')).toBe('Alice asks');
    expect(await read('bob')).toBe('Bob asks');
  });
});
