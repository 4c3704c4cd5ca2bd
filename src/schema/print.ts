import { readFileSync, writeFileSync } from 'node:fs';
import { printSubgraphSchema } from '@apollo/subgraph';
import {
  type ASTNode,
  type DefinitionNode,
  type GraphQLSchema,
  lexicographicSortSchema,
  parse,
  print,
  printSchema,
  visit,
} from 'graphql';
import { extended } from '../runtime/objects.js';
import { parsePromptsFile } from '../templates/config-file.js';
import { schema } from './index.js';
import { buildSchema } from './templates/schema.js';

/**
 * The committed SDL: the subgraph view gateways compose (with `@link` and `@key`), sorted so that
 * diffs show real changes. `lexicographicSortSchema` is not enough here: the subgraph printer
 * follows the AST nodes that carry the federation directives, in declaration order.
 */

type Named = { name?: { value: string } };

function nameOf(node: Named): string {
  return node.name?.value ?? '';
}

/** Code-point order, so the file is the same whatever the machine's locale. */
function compareNames(a: Named, b: Named): number {
  const [x, y] = [nameOf(a), nameOf(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}

const byName = <T extends Named>(nodes: readonly T[] | undefined) =>
  nodes === undefined ? undefined : [...nodes].sort(compareNames);

function definitionRank(node: DefinitionNode): number {
  return node.kind === 'SchemaExtension' || node.kind === 'SchemaDefinition'
    ? 0
    : node.kind === 'DirectiveDefinition'
      ? 1
      : 2;
}

export function sortSdl(sdl: string): string {
  const document = parse(sdl, { noLocation: true });
  const sorted = visit(document, {
    enter(node: ASTNode) {
      if ('fields' in node && Array.isArray(node.fields))
        return extended(node, { fields: byName(node.fields) });
      if (node.kind === 'EnumTypeDefinition') return extended(node, { values: byName(node.values) });
      return undefined;
    },
  });
  const definitions = [...sorted.definitions].sort(
    (a, b) => definitionRank(a) - definitionRank(b) || compareNames(a as Named, b as Named),
  );
  return `${print(extended(sorted, { definitions }))}\n`;
}

export function printSortedSubgraphSchema(served: GraphQLSchema = schema): string {
  return sortSdl(printSubgraphSchema(served));
}

/** The SDL served with the example prompts file: template fields and an entity field, composed by gateways. */
export function printExamplePromptsSchema(): string {
  return printSortedSubgraphSchema(buildSchema(parsePromptsFile(readFileSync(examplePromptsFile, 'utf8'))));
}

/** The executable API as clients and codegen see it (federation's `_service`/`_entities` included). */
export function printSortedApiSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}

export const schemaFile = new URL('../../schema/schema.graphql', import.meta.url);
export const apiSchemaFile = new URL('../../schema/api.graphql', import.meta.url);
export const promptsSchemaFile = new URL('../../schema/schema.prompts.graphql', import.meta.url);
const examplePromptsFile = new URL('../../examples/prompts.yaml', import.meta.url);

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(schemaFile, printSortedSubgraphSchema());
  writeFileSync(apiSchemaFile, printSortedApiSchema());
  writeFileSync(promptsSchemaFile, printExamplePromptsSchema());
  console.log(`wrote ${schemaFile.pathname}, ${apiSchemaFile.pathname} and ${promptsSchemaFile.pathname}`);
}
