import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * GraphQL Code Generator: typed documents for the tests (client preset) and an introspection JSON
 * for tooling, both from `schema/api.graphql` (the executable API schema that `npm run schema:print`
 * writes beside the subgraph SDL). A test fails when the committed output is stale.
 */
const config: CodegenConfig = {
  schema: 'schema/api.graphql',
  // ESM with NodeNext resolution: relative imports in the output need their .js extension.
  emitLegacyCommonJSImports: false,
  documents: ['test/documents/*.graphql'],
  generates: {
    'test/generated/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: { useTypeImports: true, enumsAsTypes: true, scalars: { DateTime: 'string' } },
    },
    'schema/introspection.json': {
      plugins: ['introspection'],
      config: { minify: false, descriptions: true },
    },
  },
  hooks: {},
};

export default config;
