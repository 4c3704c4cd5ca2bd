/**
 * One model for the whole test run: every test file loads it from the same cache directory, so
 * only the first file of a run (or a changed corpus/parameter) pays for the build.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalProvider, type LocalProvider } from '../../src/local/provider.js';

export const TEST_CACHE_DIR = join(tmpdir(), 'completions-subgraph-test-model');

let shared: Promise<LocalProvider> | undefined;

export function localProvider(): Promise<LocalProvider> {
  shared ??= createLocalProvider({ cacheDir: TEST_CACHE_DIR });
  return shared;
}
