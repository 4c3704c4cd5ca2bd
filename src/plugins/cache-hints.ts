import {
  type DocumentNode,
  type ExecutionResult,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  getOperationAST,
  Kind,
  type SelectionSetNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { anonymousClient } from '../auth/client-keys.js';
import type { GraphQLContext } from '../context.js';
import { entityTemplatesOf, promptNamespaceField } from '../schema/templates/schema.js';

/**
 * `Cache-Control` for responses a gateway (or a CDN) may keep: a query whose every field is a
 * template result that may be reused (`Query.prompt.*`, or entity fields like `Product.aiSummary`
 * in `_entities`), answered without errors, for as long as the shortest of them stays valid.
 * Apollo Gateway and Router take the subgraph's header as the bound of their response cache, the
 * Hive gateway's response cache too. Any other query answer (stored completions, usage, models, a
 * sampled template text, an error, a refusal before execution) says `no-store, max-age=0`; mutations,
 * subscriptions and event streams say nothing of their own. Registered before the plugins that may
 * refuse an operation before it runs (the entities cap, the preflight), so that it sees their
 * refusals too.
 * `private` when clients authenticate: a shared cache must not hand one client's answer to a
 * caller it never authenticated; `public` when the service runs open.
 */

const decided = new WeakMap<object, string>();

/** The header decided for this operation's context (the JSON route writes its own response). */
export function cacheControlFor(context: object): string | undefined {
  return decided.get(context);
}

function onlyTemplateFields(
  schema: GraphQLSchema,
  selections: SelectionSetNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  allowed: (field: string, typeCondition: string | undefined) => boolean,
  typeCondition: string | undefined,
  depth = 0,
): boolean {
  if (depth > 20) return false;
  for (const selection of selections.selections) {
    if (selection.kind === Kind.FIELD) {
      if (selection.name.value === '__typename') continue;
      if (!allowed(selection.name.value, typeCondition)) return false;
    } else {
      const fragment =
        selection.kind === Kind.INLINE_FRAGMENT ? selection : fragments.get(selection.name.value);
      if (fragment === undefined) return false;
      const type = fragment.typeCondition?.name.value ?? typeCondition;
      if (!onlyTemplateFields(schema, fragment.selectionSet, fragments, allowed, type, depth + 1))
        return false;
    }
  }
  return true;
}

/** A query of template results only (and `__typename`), another query, or not a query. */
type Selection = 'templates' | 'query' | 'other';

const answers = new WeakMap<GraphQLSchema, WeakMap<DocumentNode, Map<string, Selection>>>();

/** What the operation selects (see `Selection`); worked out once per document. */
function selectionOf(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName?: string | null,
): Selection {
  let bySchema = answers.get(schema);
  if (bySchema === undefined) {
    bySchema = new WeakMap();
    answers.set(schema, bySchema);
  }
  let byName = bySchema.get(document);
  if (byName === undefined) {
    byName = new Map();
    bySchema.set(document, byName);
  }
  const name = operationName ?? '';
  let answer = byName.get(name);
  if (answer === undefined) {
    answer = walk(schema, document, operationName);
    byName.set(name, answer);
  }
  return answer;
}

function walk(schema: GraphQLSchema, document: DocumentNode, operationName?: string | null): Selection {
  const operation = getOperationAST(document, operationName);
  if (operation?.operation !== 'query') return 'other';
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const entities = entityTemplatesOf(schema);
  const isEntityField = (field: string, type: string | undefined) =>
    type !== undefined && entities?.get(type)?.has(field) === true;
  const root = schema.getQueryType()?.name;
  const templatesOnly =
    onlyTemplateFields(
      schema,
      operation.selectionSet,
      fragments,
      // `_entities` is looked into below: only template fields of its entity types.
      (field, type) => type === root && (field === promptNamespaceField || field === '_entities'),
      root,
    ) && entitiesSelectTemplatesOnly(schema, operation.selectionSet, fragments, isEntityField, root);
  return templatesOnly ? 'templates' : 'query';
}

/** Each `_entities` field selects, on each entity type, only that type's template fields. */
function entitiesSelectTemplatesOnly(
  schema: GraphQLSchema,
  selections: SelectionSetNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  isEntityField: (field: string, type: string | undefined) => boolean,
  root: string | undefined,
): boolean {
  for (const selection of selections.selections) {
    if (selection.kind === Kind.FIELD) {
      if (selection.name.value !== '_entities') continue;
      if (selection.selectionSet === undefined) return false;
      if (!onlyTemplateFields(schema, selection.selectionSet, fragments, isEntityField, undefined))
        return false;
    } else {
      const fragment =
        selection.kind === Kind.INLINE_FRAGMENT ? selection : fragments.get(selection.name.value);
      if (fragment === undefined) return false;
      if (!entitiesSelectTemplatesOnly(schema, fragment.selectionSet, fragments, isEntityField, root))
        return false;
    }
  }
  return true;
}

function decide(
  args: {
    schema: GraphQLSchema;
    document: DocumentNode;
    operationName?: string | null | undefined;
    contextValue: unknown;
  },
  result: ExecutionResult,
): string | undefined {
  const selection = selectionOf(args.schema, args.document, args.operationName);
  if (selection === 'other') return undefined;
  const context = args.contextValue as GraphQLContext;
  const maxAge = context.cacheHint;
  // Any other query answer is no-store, as Apollo Server says, and max-age=0 for the caches that
  // read only max-age (the Hive gateway's, which otherwise keeps an answer for its default TTL): a
  // client's data or a sampled text is never kept.
  if (
    selection !== 'templates' ||
    typeof maxAge !== 'number' ||
    maxAge <= 0 ||
    (result.errors?.length ?? 0) > 0
  ) {
    return 'no-store, max-age=0';
  }
  const scope = context.client.name === anonymousClient.name ? 'public' : 'private';
  return `${scope}, max-age=${maxAge}`;
}

export function useCacheHints(): Plugin {
  const byRequest = new WeakMap<Request, string>();
  return {
    onExecute: ({ args }) => ({
      onExecuteDone: ({ result }) => {
        if (Symbol.asyncIterator in result) return;
        const header = decide(args, result);
        if (header === undefined) return;
        decided.set(args.contextValue as object, header);
        const request = (args.contextValue as { request?: Request }).request;
        if (request !== undefined) byRequest.set(request, header);
      },
    }),
    onResponse: ({ request, response }) => {
      const header = byRequest.get(request);
      // An event stream (a query asked for as text/event-stream) keeps yoga's no-cache: no cache
      // keeps a stream, and a hint on one would read as a cacheable document.
      if (header === undefined || response.headers.get('content-type')?.startsWith('text/event-stream'))
        return;
      response.headers.set('cache-control', header);
    },
  };
}
