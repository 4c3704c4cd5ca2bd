import {
  type ConstDirectiveNode,
  type ConstListValueNode,
  GraphQLSchema,
  Kind,
  type SchemaExtensionNode,
} from 'graphql';
import { extended } from '../../runtime/objects.js';
import { cacheControlHint } from '../../templates/cache-key.js';
import type { PromptTemplate } from '../../templates/template.js';
import { completionFieldCost } from '../completion.js';

/**
 * The SDL a template's `entity` binding adds: the other subgraph's entity as this subgraph sees it
 * (`@key`, the required fields `@external`) with the template's field `@requires` them, and the
 * federation directives that needs imported in the schema's `@link`.
 */

/** Entity type → field name → template. */
export type EntityTemplates = ReadonlyMap<string, ReadonlyMap<string, PromptTemplate>>;

const literal = (text: string) => JSON.stringify(text);

export function groupEntityTemplates(
  templates: readonly PromptTemplate[],
  taken: (typeName: string) => boolean,
): EntityTemplates {
  const byType = new Map<string, Map<string, PromptTemplate>>();
  for (const template of templates) {
    const binding = template.entity;
    if (binding === undefined) continue;
    if (taken(binding.type)) {
      throw new Error(`template ${template.name}: the entity type ${binding.type} is a type of this service`);
    }
    const fields = byType.get(binding.type) ?? new Map<string, PromptTemplate>();
    const other = [...fields.values()][0];
    if (other?.entity && other.entity.key !== binding.key) {
      throw new Error(`templates ${other.name} and ${template.name} give ${binding.type} different keys`);
    }
    if (fields.has(binding.field)) {
      throw new Error(
        `templates ${fields.get(binding.field)?.name} and ${template.name} both add ${binding.type}.${binding.field}`,
      );
    }
    fields.set(binding.field, template);
    byType.set(binding.type, fields);
  }
  // A field a template adds cannot also be the type's key or a field a template requires.
  for (const [type, fields] of byType) {
    const templatesOfType = [...fields.values()];
    const owned = new Set(
      templatesOfType.flatMap((t) => [t.entity?.key ?? 'id', ...t.variables.map((v) => v.name)]),
    );
    for (const [field, template] of fields) {
      if (owned.has(field)) {
        throw new Error(
          `template ${template.name}: the entity field ${type}.${field} is also the key or a required field of ${type}; name it differently`,
        );
      }
    }
  }
  return byType;
}

function entityType(type: string, fields: ReadonlyMap<string, PromptTemplate>): string {
  const templates = [...fields.values()];
  const key = templates[0]?.entity?.key ?? 'id';
  const external = new Map<string, string>();
  for (const template of templates) {
    for (const v of template.variables) {
      const spelled = `${v.scalar}${v.required ? '!' : ''}`;
      const seen = external.get(v.name);
      if (seen !== undefined && seen !== spelled) {
        throw new Error(`${type}.${v.name} is ${seen} in one template and ${spelled} in ${template.name}`);
      }
      external.set(v.name, spelled);
    }
  }
  const lines = [
    `${key}: ID!`,
    ...[...external].map(([name, spelled]) => `${name}: ${spelled} @external`),
    ...templates.map((t) => {
      const requires = t.variables.map((v) => v.name).join(' ');
      const description = literal(
        `${t.description} (Model ${t.model}; one paid upstream call for all the entities of a request.)`,
      );
      return `${description}\n  ${t.entity?.field}: GeneratedText @requires(fields: ${literal(requires)}) @cost(weight: ${completionFieldCost})${cacheControlHint(t)}`;
    }),
  ];
  return `type ${type} @key(fields: ${literal(key)}) {\n  ${lines.join('\n  ')}\n}`;
}

export function entitySdl(entities: EntityTemplates): string {
  if (entities.size === 0) return '';
  const types = [...entities].map(([type, fields]) => entityType(type, fields));
  return `${types.join('\n\n')}\n\nextend union _Entity = ${[...entities.keys()].join(' | ')}\n`;
}

/** The schema with `imports` added to its federation `@link`'s import list. */
export function withFederationImports(schema: GraphQLSchema, imports: readonly string[]): GraphQLSchema {
  const addImports = (directive: ConstDirectiveNode): ConstDirectiveNode => {
    if (directive.name.value !== 'link') return directive;
    return extended(directive, {
      arguments: directive.arguments?.map((argument) => {
        if (argument.name.value !== 'import' || argument.value.kind !== Kind.LIST) return argument;
        const list: ConstListValueNode = argument.value;
        const present = new Set(list.values.map((v) => (v.kind === Kind.STRING ? v.value : '')));
        const added = imports
          .filter((name) => !present.has(name))
          .map((value) => ({ kind: Kind.STRING, value }) as const);
        return extended(argument, { value: extended(list, { values: [...list.values, ...added] }) });
      }),
    });
  };
  const extensionASTNodes = schema.extensionASTNodes.map(
    (node): SchemaExtensionNode => extended(node, { directives: node.directives?.map(addImports) }),
  );
  return new GraphQLSchema(extended(schema.toConfig(), { extensionASTNodes }));
}
