import {
  type DocumentNode,
  type FragmentDefinitionNode,
  GraphQLError,
  getOperationAST,
  Kind,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { errorCodes } from '../errors.js';

/**
 * Caps the representations one operation may pass to `_entities`. Each is a storage lookup (a
 * model catalog read or a stored-completion id), and a gateway's query plan sends a handful per
 * fetch, so a client sending thousands is probing ids or loading the database. Run after
 * validation and before any resolver, not as a validation rule, because the count depends on
 * the variables and yoga caches validation per document.
 *
 * Every `_entities` field of the operation counts (aliases, fragments), whether or not
 * `@skip`/`@include` would drop it: the representations were sent all the same.
 */

export const entitiesFieldName = '_entities';

/** Status 400 under `application/graphql-response+json`, 200 for legacy JSON clients (gateways). */
const requestError = { spec: true, status: 400 } as const;

/** What one argument value holds: a list literal's items, a variable's array, one value as a list of one. */
function countValue(
  value: ValueNode,
  variables: Record<string, unknown>,
  defaults: Map<string, ValueNode>,
): number {
  if (value.kind === Kind.LIST) return value.values.length;
  if (value.kind === Kind.NULL) return 0;
  if (value.kind !== Kind.VARIABLE) return 1;
  const name = value.name.value;
  if (!Object.hasOwn(variables, name)) {
    const fallback = defaults.get(name);
    return fallback === undefined ? 0 : countValue(fallback, variables, defaults);
  }
  const raw = variables[name];
  if (Array.isArray(raw)) return raw.length;
  return raw === null || raw === undefined ? 0 : 1;
}

function countIn(
  selectionSet: SelectionSetNode,
  fragments: Map<string, FragmentDefinitionNode>,
  variables: Record<string, unknown>,
  defaults: Map<string, ValueNode>,
  seen: Set<string>,
): number {
  let count = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      if (selection.name.value !== entitiesFieldName) continue;
      const argument = selection.arguments?.find((a) => a.name.value === 'representations');
      if (argument !== undefined) count += countValue(argument.value, variables, defaults);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      count += countIn(selection.selectionSet, fragments, variables, defaults, seen);
    } else {
      const fragment = fragments.get(selection.name.value);
      // A fragment spread twice sends its representations twice.
      if (fragment === undefined || seen.has(fragment.name.value)) continue;
      seen.add(fragment.name.value);
      count += countIn(fragment.selectionSet, fragments, variables, defaults, seen);
      seen.delete(fragment.name.value);
    }
  }
  return count;
}

/** The representations the operation that would run passes to `_entities`, summed. */
export function countEntityRepresentations(
  document: DocumentNode,
  operationName: string | null | undefined,
  rawVariables: Record<string, unknown> | null | undefined,
): number {
  const operation = getOperationAST(document, operationName);
  // `_entities` is a Query field: mutations and subscriptions cannot select it at their root.
  if (operation === null || operation === undefined || operation.operation !== 'query') return 0;
  const defaults = new Map<string, ValueNode>();
  for (const definition of operation.variableDefinitions ?? []) {
    if (definition.defaultValue !== undefined)
      defaults.set(definition.variable.name.value, definition.defaultValue);
  }
  const fragments = new Map(
    document.definitions.flatMap((d) =>
      d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [],
    ),
  );
  return countIn(operation.selectionSet, fragments, rawVariables ?? {}, defaults, new Set());
}

export function useEntitiesCap(maxRepresentations: number): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const variables = args.variableValues as Record<string, unknown> | null | undefined;
      const representations = countEntityRepresentations(args.document, args.operationName, variables);
      if (representations <= maxRepresentations) return;
      setResultAndStopExecution({
        errors: [
          new GraphQLError(
            `This operation passes ${representations} representations to _entities; at most ${maxRepresentations} are allowed in one operation.`,
            {
              extensions: {
                code: errorCodes.tooManyEntities,
                representations,
                maxRepresentations,
                http: requestError,
              },
            },
          ),
        ],
      });
    },
  };
}
