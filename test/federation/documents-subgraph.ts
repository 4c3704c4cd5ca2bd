import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { createYoga } from 'graphql-yoga';

/**
 * A second, test-only Federation v2 subgraph: documents that point at entities the completions
 * subgraph owns. `CreateCompletionResponse` and `Model` are referenced with `resolvable: false`,
 * so every field beyond `id` has to come from the completions subgraph through the gateway.
 */

export const documentsTypeDefs = /* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"])

  "A document some completion wrote."
  type Document @key(fields: "id") {
    id: ID!
    title: String!
    "The stored completion that generated the document (owned by the completions subgraph)."
    generatedBy: CreateCompletionResponse
    "The model the document was written with (owned by the completions subgraph)."
    model: Model
  }

  type CreateCompletionResponse @key(fields: "id", resolvable: false) {
    id: ID!
  }

  type Model @key(fields: "id", resolvable: false) {
    id: ID!
  }

  type Query {
    documents: [Document!]!
    document(id: ID!): Document
  }
`;

export interface DocumentRecord {
  id: string;
  title: string;
  /** A completion id (cmpl-...), stored or not. */
  completionId?: string;
  modelId?: string;
}

export interface DocumentsSubgraph {
  url: string;
  /** Adds (or replaces by id) a document. */
  add(document: DocumentRecord): void;
  clear(): void;
  /** GraphQL requests this subgraph received, in order (the gateway's fetches). */
  requests: { query: string; variables: unknown }[];
  close(): Promise<void>;
}

export async function startDocumentsSubgraph(): Promise<DocumentsSubgraph> {
  const documents = new Map<string, DocumentRecord>();
  const requests: DocumentsSubgraph['requests'] = [];
  const schema = buildSubgraphSchema({
    typeDefs: parse(documentsTypeDefs),
    resolvers: {
      Query: {
        documents: () => [...documents.values()],
        document: (_root: unknown, args: { id: string }) => documents.get(args.id) ?? null,
      },
      Document: {
        __resolveReference: (reference: { id: string }) => documents.get(reference.id) ?? null,
        generatedBy: (document: DocumentRecord) =>
          document.completionId === undefined
            ? null
            : { __typename: 'CreateCompletionResponse', id: document.completionId },
        model: (document: DocumentRecord) =>
          document.modelId === undefined ? null : { __typename: 'Model', id: document.modelId },
      },
    },
  });
  const yoga = createYoga({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    graphiql: false,
    logging: false,
    maskedErrors: false,
    plugins: [
      {
        onParams({ params }) {
          requests.push({ query: params.query ?? '', variables: params.variables });
        },
      },
    ],
  });
  const sockets = new Set<Socket>();
  const server = createServer(yoga);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  return {
    url,
    requests,
    add: (document) => void documents.set(document.id, document),
    clear: () => documents.clear(),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
