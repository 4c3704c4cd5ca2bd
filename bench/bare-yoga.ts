/**
 * A reference point for section 3, not the service: graphql-yoga with its defaults, a small
 * schema and a subscription resolver that is one undici request and a line-splitting loop — no
 * plugins, no checks, no limits. What yoga's own SSE costs on this machine, measured in the same
 * run as the service, so the service's figure can be read against the framework's floor. Section 6
 * also calls its `createCompletion`, the peer schema's (`peer-schema.ts`), as Apollo Server's and
 * Mercurius's are.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSchema, createYoga } from 'graphql-yoga';
import { Agent, request } from 'undici';
import { serveParent } from './children.js';
import { createCompletionResolver, type PeerInput, peerTypeDefs } from './peer-schema.js';

const origin = process.env.UPSTREAM_ORIGIN ?? 'http://127.0.0.1:9';
const agent = new Agent({ keepAliveTimeout: 30_000 });

interface WireChunk {
  id: string;
  model: string;
  created: number;
  choices: { index: number; text: string; finish_reason: string | null }[];
}

async function* completionStream(input: PeerInput) {
  const response = await request(`${origin}/v1/completions`, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({
      model: input.model,
      prompt: input.prompt.text,
      max_tokens: input.maxTokens,
      stream: true,
    }),
  });
  let buffer = '';
  for await (const piece of response.body) {
    buffer += String(piece);
    for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
      const data = buffer.slice(6, end);
      buffer = buffer.slice(end + 2);
      if (data === '[DONE]') continue;
      const chunk = JSON.parse(data) as WireChunk;
      yield {
        ...chunk,
        usage: null,
        choices: chunk.choices.map((c) => ({ index: c.index, text: c.text, finishReason: c.finish_reason })),
      };
    }
  }
}

const schema = createSchema({
  typeDefs: [
    peerTypeDefs,
    /* GraphQL */ `
    type Choice { index: Int! text: String! finishReason: String }
    type Usage { promptTokens: Int totalTokens: Int }
    type Chunk { id: String! model: String! created: Int! choices: [Choice!]! usage: Usage }
    type Subscription { completionStream(input: CreateCompletionInput!): Chunk! }
  `,
  ],
  resolvers: {
    Mutation: { createCompletion: createCompletionResolver(origin) },
    Subscription: {
      completionStream: {
        subscribe: (_root: unknown, args: { input: PeerInput }) => completionStream(args.input),
        resolve: (chunk: unknown) => chunk,
      },
    },
  },
});

const server = createServer(createYoga({ schema, logging: false }));
server.listen({ port: 0, host: '127.0.0.1' }, () =>
  serveParent((server.address() as AddressInfo).port, { cpu: () => process.cpuUsage() }),
);
