/**
 * Section 6's Mercurius peer: Fastify 5 with Mercurius, every query compiled by graphql-jit from
 * its first run (`jit: 1`), no GraphiQL, no logger, the peer schema of `peer-schema.ts` in front
 * of the stub at `UPSTREAM_ORIGIN`.
 */
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import mercurius from 'mercurius';
import { serveParent } from './children.js';
import { createCompletionResolver, peerTypeDefs } from './peer-schema.js';

const origin = process.env.UPSTREAM_ORIGIN ?? 'http://127.0.0.1:9';

const app = Fastify({ logger: false });
await app.register(mercurius, {
  schema: peerTypeDefs,
  resolvers: { Mutation: { createCompletion: createCompletionResolver(origin) } },
  jit: 1,
  graphiql: false,
});
await app.listen({ port: 0, host: '127.0.0.1' });
serveParent((app.server.address() as AddressInfo).port, { cpu: () => process.cpuUsage() });
