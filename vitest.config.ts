import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // graphql 16 ships CJS ("main") and ESM ("module") builds without an exports map. Node loads the
    // CJS build for the libraries; Vite would pick the ESM one for our code, and two GraphQLError
    // classes break `instanceof`. One build for everyone, as in production.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // Tests start real servers on 127.0.0.1; two workers match the 2-core CI machine.
    maxWorkers: 2,
  },
});
