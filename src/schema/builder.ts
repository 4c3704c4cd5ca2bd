import SchemaBuilder from '@pothos/core';
import DirectivesPlugin from '@pothos/plugin-directives';
import FederationPlugin from '@pothos/plugin-federation';
import type { GraphQLContext } from '../context.js';

/**
 * The Pothos builder and its plugins; it defines no types. Output fields are non-null unless a
 * field says otherwise: nullability is decided per field, never defaulted.
 */
export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
  };
}>({
  // Federation must come after plugins that wrap resolvers.
  plugins: [DirectivesPlugin, FederationPlugin],
  defaultFieldNullability: false,
});

builder.queryType({ description: 'Read the models that can serve completions.' });
builder.mutationType({ description: 'Create completions. Every field here is a paid upstream call.' });
builder.subscriptionType({ description: 'Completions streamed token by token as they are generated.' });
