import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kind, parse, print } from 'graphql';
import type { ClientAuthenticator } from '../../src/auth/client-keys.js';
import { createStorage, type Storage } from '../../src/storage/index.js';
import { reply, type StubUpstream, startStubUpstream } from '../helpers/stub-upstream.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

/** The completions subgraph as the gateways see it: the real app, a stub upstream, SQLite storage. */

export const upstreamModels = {
  object: 'list',
  data: [
    { id: 'gpt-3.5-turbo-instruct', object: 'model', created: 1692901427, owned_by: 'system' },
    { id: 'davinci-002', object: 'model', created: 1692634301, owned_by: 'system' },
  ],
};

/** The recorded non-streamed body every `POST /completions` gets: its id, text and usage. */
export const recordedCompletion = {
  id: 'cmpl-C47L3RG6ICY37W3Q0flVHr4BPTPMS',
  model: 'gpt-3.5-turbo-instruct:20230824-v2',
  text: '\n\nThe Toronto Raptors won the 2019 NBA Finals.',
  totalTokens: 22,
};

export interface CompletionsSubgraph {
  stub: StubUpstream;
  app: TestApp;
  storage: Storage;
  close(): Promise<void>;
}

/** With an authenticator, every request (the gateway's included) needs a client key. */
export async function startCompletionsSubgraph(
  options: { authenticator?: ClientAuthenticator } = {},
): Promise<CompletionsSubgraph> {
  const dir = await mkdtemp(join(tmpdir(), 'federation-'));
  const storage = await createStorage({ sqlitePath: join(dir, 'completions.sqlite') });
  const stub = await startStubUpstream();
  stub.on('GET', '/models', reply.json(200, upstreamModels));
  stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
  const app = await startTestApp({
    upstream: { baseUrl: stub.baseUrl },
    app: { storage, ...(options.authenticator ? { authenticator: options.authenticator } : {}) },
  });
  return {
    stub,
    app,
    storage,
    async close() {
      app.assertNoSecretLeaked();
      await app.close();
      await stub.close();
      await storage.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A mutation storing a completion; `store: true` is what makes it an entity other subgraphs can join. */
export const createStoredCompletion = /* GraphQL */ `
  mutation Create($prompt: String!) {
    createCompletion(input: { model: "gpt-3.5-turbo-instruct", prompt: { text: $prompt }, store: true }) {
      id
      storedAt
      choices {
        text
      }
    }
  }
`;

/** The join: documents from one subgraph, their completion and model from the other. */
export const documentsJoin = /* GraphQL */ `
  {
    documents {
      title
      generatedBy {
        id
        model
        choices {
          text
        }
        usage {
          totalTokens
        }
        storedAt
      }
      model {
        id
        ownedBy
      }
    }
  }
`;

export interface GatewayResponse {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary response shapes
  json: any;
}

export async function postGraphQL(
  url: string,
  query: string,
  variables?: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<GatewayResponse> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${url} answered ${response.status} with non-JSON: ${text.slice(0, 300)}`);
  }
  return { status: response.status, json };
}

/** The demand-control directives a supergraph carries, as `Type.field` → printed directive. */
export function costDirectives(supergraphSdl: string): Record<string, string> {
  const found: Record<string, string> = {};
  for (const definition of parse(supergraphSdl).definitions) {
    if (definition.kind !== Kind.OBJECT_TYPE_DEFINITION) continue;
    for (const field of definition.fields ?? []) {
      for (const directive of field.directives ?? []) {
        if (directive.name.value === 'cost' || directive.name.value === 'listSize')
          found[`${definition.name.value}.${field.name.value}`] = print(directive);
      }
    }
  }
  return found;
}

/** What the committed subgraph SDL declares, and so what a supergraph should keep. */
export const expectedCostDirectives = {
  'CreateCompletionResponse.choices': '@listSize(assumedSize: 1)',
  'Mutation.createCompletion': '@cost(weight: 1000)',
  'Model.deployments': '@listSize(assumedSize: 4)',
  'Query.models': '@listSize(assumedSize: 20)',
  'Subscription.completionStream': '@cost(weight: 1000)',
};

/** The `@link`s on the supergraph's schema definition, as `url` → imports. */
export function schemaLinks(supergraphSdl: string): Record<string, string[]> {
  const links: Record<string, string[]> = {};
  for (const definition of parse(supergraphSdl).definitions) {
    if (definition.kind !== Kind.SCHEMA_DEFINITION) continue;
    for (const directive of definition.directives ?? []) {
      if (directive.name.value !== 'link') continue;
      const url = directive.arguments?.find((a) => a.name.value === 'url')?.value;
      const imports = directive.arguments?.find((a) => a.name.value === 'import')?.value;
      if (url?.kind !== Kind.STRING) continue;
      links[url.value] =
        imports?.kind === Kind.LIST
          ? imports.values.map((value) => (value.kind === Kind.STRING ? value.value : print(value)))
          : [];
    }
  }
  return links;
}

/** What the documents join returns for the 'Finals' document pointing at the stored recorded completion. */
export function finalsDocument(storedAt: string) {
  return {
    title: 'Finals',
    generatedBy: {
      id: recordedCompletion.id,
      model: recordedCompletion.model,
      choices: [{ text: recordedCompletion.text }],
      usage: { totalTokens: recordedCompletion.totalTokens },
      storedAt,
    },
    model: { id: 'davinci-002', ownedBy: 'system' },
  };
}
