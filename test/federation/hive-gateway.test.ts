import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGatewayRuntime, type GatewayRuntime } from '@graphql-hive/gateway-runtime';
import { composeServices } from '@theguild/federation-composition';
import { parse } from 'graphql';
import { createClient } from 'graphql-sse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recorded } from '../helpers/recorded.js';
import { type DocumentsSubgraph, documentsTypeDefs, startDocumentsSubgraph } from './documents-subgraph.js';
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
import { sseHttpTransport } from './hive-http-transport.js';

/**
 * The Hive gateway runtime on node:http, composing the completions subgraph with the test
 * documents subgraph through its own local composition (`supergraph: { type: 'dev' }`, which
 * introspects `_service { sdl }` and runs `@theguild/federation-composition`). Streaming: SSE from
 * the client to the gateway and from the gateway to the subgraph. The tests run in order.
 */

let completions: CompletionsSubgraph;
let documents: DocumentsSubgraph;
const gateways: { runtime: GatewayRuntime; server: Server }[] = [];

async function startGateway(demandControl?: { maxCost: number }): Promise<string> {
  const runtime = createGatewayRuntime({
    supergraph: {
      type: 'dev',
      services: [
        { name: 'completions', url: completions.app.graphqlUrl },
        { name: 'documents', url: documents.url },
      ],
    },
    transports: { http: sseHttpTransport },
    logging: false,
    ...(demandControl ? { demandControl: { ...demandControl, includeExtensionMetadata: true } } : {}),
  });
  const server = createServer(runtime);
  gateways.push({ runtime, server });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
}

let gatewayUrl: string;

beforeAll(async () => {
  completions = await startCompletionsSubgraph();
  documents = await startDocumentsSubgraph();
  gatewayUrl = await startGateway();
});

afterAll(async () => {
  for (const { runtime, server } of gateways) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await runtime.dispose();
  }
  await documents?.close();
  await completions?.close();
});

const streamSubscription = /* GraphQL */ `
  subscription Stream($prompt: String!) {
    completionStream(input: { model: "gpt-3.5-turbo-instruct", prompt: { text: $prompt } }) {
      id
      choices {
        text
        finishReason
      }
    }
  }
`;

describe('Hive gateway runtime', () => {
  it('composes (federation-composition) a supergraph that keeps @cost and @listSize', async () => {
    // The same composition the runtime's `type: 'dev'` supergraph runs, to read the SDL it serves.
    const { json } = await completions.app.post('{ _service { sdl } }');
    const result = composeServices([
      { name: 'completions', url: completions.app.graphqlUrl, typeDefs: parse(json.data._service.sdl) },
      { name: 'documents', url: documents.url, typeDefs: parse(documentsTypeDefs) },
    ]);
    expect(result.errors).toBeUndefined();
    const sdl = result.supergraphSdl ?? '';
    expect(schemaLinks(sdl)).toMatchObject({
      'https://specs.apollo.dev/join/v0.5': [],
      'https://specs.apollo.dev/cost/v0.1': ['@listSize'],
    });
    expect(sdl).toMatch(/^directive @cost\(weight: Int!\) on /m);
    expect(costDirectives(sdl)).toEqual(expectedCostDirectives);
    expect(sdl).toContain('@join__type(graph: DOCUMENTS, key: "id", resolvable: false)');
  });

  it('creates a stored completion through the gateway and joins documents to it without upstream calls', async () => {
    const created = await postGraphQL(gatewayUrl, createStoredCompletion, { prompt: 'Who won in 2019?' });
    expect(created.json.errors).toBeUndefined();
    const completion = created.json.data.createCompletion;
    expect(completion).toMatchObject({ id: recordedCompletion.id, storedAt: expect.any(String) });
    expect(completions.stub.hits('/completions')).toBe(1);

    documents.add({ id: 'doc-1', title: 'Finals', completionId: completion.id, modelId: 'davinci-002' });
    const join = await postGraphQL(gatewayUrl, documentsJoin);
    expect(join.json.errors).toBeUndefined();
    expect(join.json.data.documents).toEqual([finalsDocument(completion.storedAt)]);
    expect(completions.stub.hits('/completions')).toBe(1);
    const before = completions.stub.requests.length;
    await postGraphQL(gatewayUrl, documentsJoin);
    expect(completions.stub.requests.length).toBe(before);
  });

  it('resolves an unknown completion id to null (and an unknown model to its key only)', async () => {
    documents.clear();
    documents.add({ id: 'doc-2', title: 'Orphan', completionId: 'cmpl-unknown', modelId: 'no-such-model' });
    const { json } = await postGraphQL(gatewayUrl, documentsJoin);
    // Unlike Apollo Gateway, the Hive gateway reports the null it had to bubble up as an error
    // (masked: the message is logged, not sent).
    expect(json.data.documents).toEqual([
      { title: 'Orphan', generatedBy: null, model: { id: 'no-such-model', ownedBy: null } },
    ]);
    expect(json.errors).toEqual([
      expect.objectContaining({ path: ['documents', 0, 'generatedBy', 'model'] }),
    ]);
  });

  it('streams completionStream over SSE, client to gateway to subgraph, in order', async () => {
    const events = recorded('openai-stream-basic.sse').split(/(?<=\n\n)/);
    expect(events).toHaveLength(8);
    // The upstream holds the stream open after three chunks until the client has seen the first
    // event: proof that no hop buffers the stream to its end. Only that event opens the gate, so
    // a buffering hop never finishes the stream and the test fails at vitest's timeout instead of
    // depending on how fast this machine is.
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let upstreamEnded = false;
    let firstEventWhileUpstreamOpen: boolean | undefined;
    completions.stub.on('POST', '/completions', async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const [index, event] of events.entries()) {
        if (index === 3) await released;
        res.write(event);
      }
      res.end();
      upstreamEnded = true;
    });
    const client = createClient({ url: gatewayUrl, retryAttempts: 0 });
    const received: { text: string; finishReason: string | null }[] = [];
    try {
      for await (const result of client.iterate({
        query: streamSubscription,
        variables: { prompt: '2+2?' },
      })) {
        expect(result.errors).toBeUndefined();
        const event = (result.data as { completionStream: StreamEvent }).completionStream;
        expect(event.id).toBe('cmpl-C47M0QMQKhvcmN07HzeSZdlYG7oAp');
        received.push(...event.choices);
        firstEventWhileUpstreamOpen ??= !upstreamEnded;
        release();
      }
    } finally {
      release();
      client.dispose();
    }
    expect(received.map((choice) => choice.text)).toEqual(['The', ' answer', ' is', ' ', '4', '.', '']);
    expect(received.map((choice) => choice.finishReason)).toEqual([
      null,
      null,
      null,
      null,
      null,
      null,
      'STOP',
    ]);
    expect(received.map((choice) => choice.text).join('')).toBe('The answer is 4.');
    expect(firstEventWhileUpstreamOpen).toBe(true);
    expect(completions.stub.requests.at(-1)?.json).toMatchObject({ stream: true, prompt: '2+2?' });
  });

  it('demand control reads @cost(weight: 1000): a max cost of 999 refuses createCompletion', async () => {
    const cheapUrl = await startGateway({ maxCost: 999 });
    const before = completions.stub.hits('/completions');
    const refused = await postGraphQL(cheapUrl, createStoredCompletion, { prompt: 'Too dear?' });
    expect(refused.json.data ?? null).toBeNull();
    expect(refused.json.errors).toEqual([
      expect.objectContaining({
        extensions: expect.objectContaining({
          code: 'COST_ESTIMATED_TOO_EXPENSIVE',
          cost: { estimated: expect.any(Number), max: 999 },
        }),
      }),
    ]);
    // Without the directive the estimate would be a dozen; with it, 1002 (Hive 2.12: the field's
    // weight replaces its type's cost of 1, plus 1 for each object below, e.g. choices).
    expect(refused.json.errors[0].extensions.cost.estimated).toBeGreaterThanOrEqual(1000);
    expect(refused.json.errors[0].extensions.cost.estimated).toBeLessThan(1020);
    expect(completions.stub.hits('/completions')).toBe(before);

    // Queries stay under the limit; @listSize(assumedSize: 20) prices `models` at 20 objects.
    const models = await postGraphQL(cheapUrl, '{ models { id } }');
    expect(models.json.errors).toBeUndefined();
    expect(models.json.data.models).toHaveLength(2);
    expect(models.json.extensions.cost).toEqual({ estimated: 20, max: 999 });
  });
});

interface StreamEvent {
  id: string;
  choices: { text: string; finishReason: string | null }[];
}
