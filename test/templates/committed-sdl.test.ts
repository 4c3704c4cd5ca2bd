import { readFileSync } from 'node:fs';
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import {
  printExamplePromptsSchema,
  printSortedSubgraphSchema,
  promptsSchemaFile,
  schemaFile,
} from '../../src/schema/print.js';

/**
 * Two committed SDLs: `schema/schema.graphql` from the default configuration (no templates; its
 * own test is test/schema/), and `schema/schema.prompts.graphql` served with examples/prompts.yaml.
 * Both must be what `npm run schema:print` writes now.
 */

describe('schema/schema.prompts.graphql', () => {
  const committed = readFileSync(promptsSchemaFile, 'utf8');

  it('is what the example prompts file serves (npm run schema:print)', () => {
    expect(committed).toBe(printExamplePromptsSchema());
  });

  it('only adds to the default SDL: the prompt namespace, GeneratedText and Product', () => {
    expect(readFileSync(schemaFile, 'utf8')).toBe(printSortedSubgraphSchema());
    expect(committed).toMatch(/extend type Query \{\s+"""[^"]*"""\s+prompt: PromptTemplates!/);
    expect(committed).toMatch(/type Product @key\(fields: "id"\)/);
  });

  it('composes with a products subgraph that owns Product', () => {
    const products = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"])
      type Query { products: [Product!]! }
      type Product @key(fields: "id") { id: ID! name: String! description: String }`;
    const composed = composeServices([
      { name: 'completions', typeDefs: parse(committed), url: 'http://127.0.0.1:9' },
      { name: 'products', typeDefs: parse(products), url: 'http://127.0.0.1:8' },
    ]);
    expect(composed.errors).toBeUndefined();
  });
});
