import {
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
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
  /** The alias or field name: where the resolver finds its prepared call. */
  responseKey: string;
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
  out: Map<string, PaidField>,
  seen: ReadonlySet<string>,
): void {
  for (const selection of selectionSet.selections) {
    if (!isIncluded(selection, variables)) continue;
    if (selection.kind === Kind.FIELD) {
      const definition = root.getFields()[selection.name.value];
      if (definition === undefined || !paidFieldNames.includes(definition.name)) continue;
      const responseKey = selection.alias?.value ?? selection.name.value;
      // Selections under one response key are merged by execution (validation made their arguments
      // equal): one call. Coercing each one still refuses any that does not coerce.
      const args = getArgumentValues(definition, selection, variables);
      if (!out.has(responseKey)) {
        out.set(responseKey, {
          name: definition.name,
          responseKey,
          input: args.input as CompletionRequestInput,
        });
      }
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      collect(root, selection.selectionSet, fragments, variables, out, seen);
    } else {
      const fragment = fragments.get(selection.name.value);
      // Validation refuses unknown fragments and cycles; here they only must not loop or slip by.
      if (fragment === undefined) throw new GraphQLError(`Unknown fragment "${selection.name.value}".`);
      if (seen.has(fragment.name.value)) continue;
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

export type PaidFieldsResult = { fields: PaidField[] } | { errors: readonly GraphQLError[] };

/**
 * The paid fields of the operation that would run, or the errors that keep it from being known
 * (no such operation, variables or arguments that do not coerce). Anything this cannot account
 * for refuses the whole operation: a paid field that was not found here is never run unpriced.
 */
export function findPaidFields(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  rawVariables: Record<string, unknown> | null | undefined,
): PaidFieldsResult {
  const operation = getOperationAST(document, operationName);
  const root = operation && schema.getRootType(operation.operation);
  if (!operation || !root) {
    return {
      errors: [
        new GraphQLError(
          operationName
            ? `Unknown operation named "${operationName}".`
            : 'Must provide operation name if query contains multiple operations.',
          { extensions: { code: 'BAD_REQUEST' } },
        ),
      ],
    };
  }
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], rawVariables ?? {}, {
    maxErrors: 10,
  });
  if (coerced.errors !== undefined) return { errors: coerced.errors };
  const fragments = new Map(
    document.definitions.flatMap((d) =>
      d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [],
    ),
  );
  const fields = new Map<string, PaidField>();
  try {
    collect(root, operation.selectionSet, fragments, coerced.coerced, fields, new Set());
  } catch (error) {
    return {
      errors: [
        error instanceof GraphQLError
          ? error
          : new GraphQLError("The operation's arguments could not be read."),
      ],
    };
  }
  return { fields: [...fields.values()] };
}
