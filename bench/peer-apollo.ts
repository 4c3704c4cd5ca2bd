/**
 * Section 6's Apollo Server peer: Apollo Server 5 on node:http through `startStandaloneServer`,
 * production mode (`NODE_ENV=production`: introspection off by default), no landing page, the
 * peer schema of `peer-schema.ts` in front of the stub at `UPSTREAM_ORIGIN`.
 */
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { startStandaloneServer } from '@apollo/server/standalone';
import { serveParent } from './children.js';
import { createCompletionResolver, peerTypeDefs } from './peer-schema.js';
import { profilerCommands } from './profiler.js';

const origin = process.env.UPSTREAM_ORIGIN ?? 'http://127.0.0.1:9';

const server = new ApolloServer({
  typeDefs: peerTypeDefs,
  resolvers: { Mutation: { createCompletion: createCompletionResolver(origin) } },
  plugins: [ApolloServerPluginLandingPageDisabled()],
});
const { url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' } });
serveParent(Number(new URL(url).port), { cpu: () => process.cpuUsage(), ...profilerCommands() });
