import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // Tests start real servers on 127.0.0.1; two workers match the 2-core CI machine.
    maxWorkers: 2,
  },
});
