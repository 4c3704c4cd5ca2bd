import {
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLIncludeDirective,
  type GraphQLObjectType,
  type GraphQLSchema,
  GraphQLSkipDirective,
  getArgumentValues,
  getDirectiveValues,
  getOperationAST,
  getVariableValues,
  Kind,
  type SelectionSetNode,
} from 'graphql';
import type { CompletionRequestInput } from '../completions/model.js';

/**
 * Finds every field of an operation that calls the paid upstream, with its coerced input: through
 * aliases, fragment spreads and inline fragments, honouring @skip and @include.
 */

export interface PaidField {
  /** The schema field (`createCompletion`, `completionStream`). */
  name: string;
  input: CompletionRequestInput;
}

export const paidFieldNames: readonly string[] = ['createCompletion', 'completionStream'];

function isIncluded(
  node: { directives?: readonly unknown[] | undefined },
  variables: Record<string, unknown>,
): boolean {
  const selection = node as FieldNode;
  if (getDirectiveValues(GraphQLSkipDirective, selection, variables)?.if === true) return false;
  return getDirectiveValues(GraphQLIncludeDirective, selection, variables)?.if !== false;
}

function collect(
  root: GraphQLObjectType,
  selectionSet: SelectionSetNode,
  fragments: Map<string, FragmentDefinitionNode>,
  variables: Record<string, unknown>,
  out: PaidField[],
  seen: ReadonlySet<string>,
): void {
  for (const selection of selectionSet.selections) {
    if (!isIncluded(selection, variables)) continue;
    if (selection.kind === Kind.FIELD) {
      const definition = root.getFields()[selection.name.value];
      if (definition === undefined || !paidFieldNames.includes(definition.name)) continue;
      const args = getArgumentValues(definition, selection, variables);
      out.push({ name: definition.name, input: args.input as CompletionRequestInput });
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      collect(root, selection.selectionSet, fragments, variables, out, seen);
    } else {
      const fragment = fragments.get(selection.name.value);
      // Validation refuses fragment cycles; `seen` only keeps a malformed document from looping here.
      if (fragment === undefined || seen.has(fragment.name.value)) continue;
      collect(
        root,
        fragment.selectionSet,
        fragments,
        variables,
        out,
        new Set([...seen, fragment.name.value]),
      );
    }
  }
}

/**
 * The paid fields of the operation that would run, or undefined when that cannot be known yet
 * (no such operation, variables or arguments that do not coerce): execution then reports the
 * problem itself, before any resolver runs.
 */
export function findPaidFields(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  rawVariables: Record<string, unknown> | null | undefined,
): PaidField[] | undefined {
  const operation = getOperationAST(document, operationName);
  const root = operation && schema.getRootType(operation.operation);
  if (!operation || !root) return undefined;
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], rawVariables ?? {});
  if (coerced.errors !== undefined) return undefined;
  const fragments = new Map(
    document.definitions.flatMap((d) =>
      d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [],
    ),
  );
  const fields: PaidField[] = [];
  try {
    collect(root, operation.selectionSet, fragments, coerced.coerced, fields, new Set());
  } catch {
    return undefined;
  }
  return fields;
}
