import { readFileSync } from 'node:fs';
import { generate } from '@graphql-codegen/cli';
import { describe, expect, it } from 'vitest';
import config from '../../codegen.js';
import { apiSchemaFile, printSortedApiSchema } from '../../src/schema/print.js';

/** Generated files are committed; these fail when they no longer match the code (`npm run schema:print && npm run codegen`). */

describe('generated artefacts', () => {
  it('schema/api.graphql is the printed API schema', () => {
    expect(readFileSync(apiSchemaFile, 'utf8')).toBe(printSortedApiSchema());
  });

  it('the codegen output (typed documents, introspection JSON) is up to date', async () => {
    const outputs = await generate({ ...config, silent: true, cwd: process.cwd() }, false);
    expect(outputs.length).toBeGreaterThan(2);
    for (const output of outputs) {
      expect(readFileSync(output.filename, 'utf8'), `${output.filename} is stale: run npm run codegen`).toBe(
        output.content,
      );
    }
  }, 60_000);
});
