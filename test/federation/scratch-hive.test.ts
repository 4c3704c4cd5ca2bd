import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGatewayRuntime } from '@graphql-hive/gateway-runtime';
import { it } from 'vitest';
import { startDocumentsSubgraph } from './documents-subgraph.js';
import { documentsJoin, postGraphQL, startCompletionsSubgraph } from './fixtures.js';

it('scratch', async () => {
  const completions = await startCompletionsSubgraph();
  const documents = await startDocumentsSubgraph();
  const gateway = createGatewayRuntime({
    supergraph: {
      type: 'dev',
      services: [
        { name: 'completions', url: completions.app.graphqlUrl },
        { name: 'documents', url: documents.url },
      ],
    },
  });
  const server = createServer(gateway);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  documents.add({ id: 'd', title: 't', completionId: 'x', modelId: 'davinci-002' });
  const res = await postGraphQL(url, documentsJoin);
  console.log(JSON.stringify(res.json));
  server.close();
  await gateway.dispose();
  await documents.close();
  await completions.close();
});
