import { printSubgraphSchema } from '@apollo/subgraph';
import { mapSchema } from '@graphql-tools/utils';
import {
  extendSchema,
  type GraphQLFieldResolver,
  GraphQLObjectType,
  type GraphQLSchema,
  parse,
} from 'graphql';
import type { GraphQLContext } from '../../context.js';
import { cacheControlDefinitions, cacheControlHint } from '../../templates/cache-key.js';
import type { GeneratedText } from '../../templates/call.js';
import type { PromptOutcome } from '../../templates/result-cache.js';
import type { PromptTemplate } from '../../templates/template.js';
import { UnplannedCallError } from '../call-options.js';
import { completionFieldCost } from '../completion.js';
import { schema as defaultSchema } from '../index.js';
import { resolveEntityField } from './entities.js';
import {
  type EntityTemplates,
  entitySdl,
  groupEntityTemplates,
  withFederationImports,
} from './entity-schema.js';
import { generatedText, runTemplateCall } from './run.js';

/**
 * The served schema, built from the configuration: the static Pothos schema as it is (no templates:
 * the very same object, so the committed SDL is today's), or extended with `Query.prompt`, one field
 * per template. Extending the built schema, rather than defining the fields in Pothos, keeps the
 * Pothos builder a module-level singleton that is never changed after start, whatever apps a process
 * (or a test file) builds with different templates.
 */

/** The namespace type: its fields are the templates. */
export const promptNamespaceType = 'PromptTemplates';
export const promptNamespaceField = 'prompt';

/** Each served schema's templates by field name: the preflight prices template fields from them. */
const catalogs = new WeakMap<GraphQLSchema, ReadonlyMap<string, PromptTemplate>>();

export function templatesOf(schema: GraphQLSchema): ReadonlyMap<string, PromptTemplate> | undefined {
  return catalogs.get(schema);
}

const entityCatalogs = new WeakMap<GraphQLSchema, EntityTemplates>();

/** Each served schema's entity fields by entity type and field: priced by the preflight in batches. */
export function entityTemplatesOf(schema: GraphQLSchema): EntityTemplates | undefined {
  return entityCatalogs.get(schema);
}

/** The plan's key for a template field: the namespace's response key, then the field's. */
export function templateCallKey(namespaceKey: string, fieldKey: string): string {
  return `${namespaceKey}.${fieldKey}`;
}

/** A GraphQL string literal; JSON's escapes are GraphQL's. */
const literal = (text: string) => JSON.stringify(text);

function templateField(template: PromptTemplate): string {
  const args = template.variables.map((v) => {
    const limit = v.maxLength === undefined ? '' : ` At most ${v.maxLength} characters.`;
    const description = literal(`Replaces {{${v.name}}} in the prompt, as plain text.${limit}`);
    return `${description} ${v.name}: ${v.scalar}${v.required ? '!' : ''}`;
  });
  args.push(
    `${literal('Per-call changes to the template’s parameters, within the same rules.')} overrides: TemplateOverrides`,
  );
  return `${literal(`${template.description} (Model ${template.model}; a paid upstream call.)`)}
  ${template.name}(${args.join(', ')}): GeneratedText! @cost(weight: ${completionFieldCost})${cacheControlHint(template)}`;
}

function extensionSdl(templates: readonly PromptTemplate[]): string {
  return `
extend type Query {
  "The operator's prompt templates, one paid field each."
  ${promptNamespaceField}: ${promptNamespaceType}!
}

"The operator's prompt templates (PROMPTS_FILE): each field renders its prompt from its arguments and calls the template's model."
type ${promptNamespaceType} {
  ${templates.map(templateField).join('\n  ')}
}

"Text a prompt template generated."
type GeneratedText {
  "The generated text (the first choice's, when the template asks for several)."
  text: String!
  "Every choice's text in order (one unless the template sets n)."
  texts: [String!]! @listSize(assumedSize: 1)
  "Why generation of the first choice stopped."
  finishReason: FinishReason
  "The model that answered, as createCompletion reports it."
  model: String!
  "Tokens used; null when the upstream does not report them."
  usage: CompletionUsage
  "Whether this result was reused from the cache instead of a new upstream call."
  cached: Boolean!
  "The upstream completion's id."
  completionId: ID!
}

"Per-call changes to a template's parameters; unset (or null) fields keep the template's."
input TemplateOverrides {
  "The most tokens to generate."
  maxTokens: Int
  "Sampling temperature, 0 to 2."
  temperature: Float
  "Nucleus sampling, 0 to 1."
  topP: Float
  "Up to 4 sequences where generation stops."
  stop: [String!]
  "A seed for repeatable sampling."
  seed: Int
  "An end-user id passed to the upstream."
  user: String
}
`;
}

const namespace = Object.freeze({});

const resolveTemplate: GraphQLFieldResolver<unknown, GraphQLContext> = async (
  _root,
  _args,
  context,
  info,
): Promise<GeneratedText> => {
  const key = templateCallKey(String(info.path.prev?.key), String(info.path.key));
  // Only the call the preflight prepared and priced, never one made from the arguments here.
  const call = context.paidCalls?.get(key);
  const template = catalogs.get(info.schema)?.get(info.fieldName);
  if (call === undefined || template === undefined) throw new UnplannedCallError(key);
  const [outcome] = await runTemplateCall(context, template, call, key, info.fieldName);
  return generatedText(outcome as PromptOutcome);
};

export function buildSchema(templates: readonly PromptTemplate[]): GraphQLSchema {
  if (templates.length === 0) return defaultSchema;
  // The types templates add (GeneratedText, TemplateOverrides, …) are this service's too.
  const added = new Set(
    parse(`${extensionSdl(templates)}\n${cacheControlDefinitions}`).definitions.flatMap((definition) =>
      'name' in definition && definition.name !== undefined ? [definition.name.value] : [],
    ),
  );
  const entities = groupEntityTemplates(
    templates,
    (name) => defaultSchema.getType(name) !== undefined || added.has(name),
  );
  const hinted = templates.some((template) => cacheControlHint(template) !== '');
  const document = parse(
    `${extensionSdl(templates)}\n${entitySdl(entities)}${hinted ? cacheControlDefinitions : ''}`,
  );
  let schema = extendSchema(defaultSchema, document, { assumeValidSDL: true });
  if (entities.size > 0) schema = withFederationImports(schema, ['@external', '@requires']);
  const query = schema.getQueryType();
  const prompts = schema.getType(promptNamespaceType);
  if (query === null || query === undefined || !(prompts instanceof GraphQLObjectType)) {
    throw new Error('the template fields could not be added to the schema');
  }
  const queryFields = query.getFields();
  const namespaceField = queryFields[promptNamespaceField];
  const service = queryFields._service;
  if (namespaceField === undefined || service === undefined) throw new Error('Query.prompt is missing');
  // graphql-js field objects are the executable schema: resolvers are set on this schema's copies,
  // the default schema's fields are untouched.
  namespaceField.resolve = () => namespace;
  for (const field of Object.values(prompts.getFields())) field.resolve = resolveTemplate;
  for (const [typeName, fields] of entities) {
    const type = schema.getType(typeName);
    if (!(type instanceof GraphQLObjectType)) throw new Error(`the entity type ${typeName} is missing`);
    for (const field of fields.keys()) {
      const definition = type.getFields()[field];
      if (definition !== undefined) definition.resolve = resolveEntityField;
    }
  }
  // Gateways compose what `_service` says: the extended SDL, template fields included.
  const sdl = printSubgraphSchema(schema);
  service.resolve = () => ({ sdl });
  catalogs.set(schema, new Map(templates.map((template) => [template.name, template])));
  entityCatalogs.set(schema, entities);
  return schema;
}

/**
 * The same schema with types and fields of its own, for a plugin that rewrites resolvers in place
 * (federated tracing wraps every one): the served schema's resolvers stay as they are. Its
 * templates and entity fields are this copy's too.
 */
export function schemaCopy(schema: GraphQLSchema): GraphQLSchema {
  const copy = mapSchema(schema, {});
  const templates = catalogs.get(schema);
  if (templates !== undefined) catalogs.set(copy, templates);
  const entities = entityCatalogs.get(schema);
  if (entities !== undefined) entityCatalogs.set(copy, entities);
  return copy;
}
