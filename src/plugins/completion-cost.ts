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
import type { Plugin } from 'graphql-yoga';
import { estimateCompletionCost } from '../completions/cost.js';
import type { CompletionRequestInput } from '../completions/model.js';

/**
 * An LLM-aware cost rule, applied when the operation is validated: every completion field in the
 * operation (through aliases, fragments and inline fragments) is priced from its arguments and the
 * request's variables. Too many paid fields, or too many tokens in all, and nothing executes.
 */

export const costCodes = {
  maxCompletions: 'MAX_COMPLETIONS_EXCEEDED',
  cost: 'COST_LIMIT_EXCEEDED',
} as const;

export interface CompletionCostOptions {
  /** Paid fields allowed in one operation. */
  maxCompletions: number;
  /** Estimated tokens (prompts + the most that may be generated) allowed in one operation. */
  maxEstimatedTokens: number;
  /** Root fields that call the upstream. */
  paidFields?: readonly string[];
}

interface PaidField {
  name: string;
  input: CompletionRequestInput;
}

function isIncluded(
  node: { directives?: readonly unknown[] | undefined },
  variables: Record<string, unknown>,
): boolean {
  const selection = node as FieldNode;
  if (getDirectiveValues(GraphQLSkipDirective, selection, variables)?.if === true) return false;
  return getDirectiveValues(GraphQLIncludeDirective, selection, variables)?.if !== false;
}

function collectPaidFields(
  root: GraphQLObjectType,
  selectionSet: SelectionSetNode,
  fragments: Map<string, FragmentDefinitionNode>,
  variables: Record<string, unknown>,
  paid: ReadonlySet<string>,
  out: PaidField[],
  seen = new Set<string>(),
): void {
  for (const selection of selectionSet.selections) {
    if (!isIncluded(selection, variables)) continue;
    if (selection.kind === Kind.FIELD) {
      const definition = root.getFields()[selection.name.value];
      if (definition === undefined || !paid.has(definition.name)) continue;
      const args = getArgumentValues(definition, selection, variables);
      out.push({ name: definition.name, input: args.input as CompletionRequestInput });
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      collectPaidFields(root, selection.selectionSet, fragments, variables, paid, out, seen);
    } else {
      const fragment = fragments.get(selection.name.value);
      // Validation refuses fragment cycles; `seen` only keeps a spread from being priced twice on one path.
      if (fragment === undefined || seen.has(fragment.name.value)) continue;
      collectPaidFields(
        root,
        fragment.selectionSet,
        fragments,
        variables,
        paid,
        out,
        new Set([...seen, fragment.name.value]),
      );
    }
  }
}

/** The refusal for an operation, or undefined when it may run. */
export function assessOperationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  rawVariables: Record<string, unknown> | null | undefined,
  options: CompletionCostOptions,
): GraphQLError | undefined {
  const operation = getOperationAST(document, operationName);
  const root = operation && schema.getRootType(operation.operation);
  if (!operation || !root) return undefined;
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], rawVariables ?? {});
  // Bad variables are reported by execution, with BAD_USER_INPUT; nothing is paid for either way.
  if (coerced.errors !== undefined) return undefined;
  const fragments = new Map(
    document.definitions.flatMap((d) =>
      d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [],
    ),
  );
  const fields: PaidField[] = [];
  const paid = new Set(options.paidFields ?? ['createCompletion', 'completionStream']);
  try {
    collectPaidFields(root, operation.selectionSet, fragments, coerced.coerced, paid, fields);
  } catch {
    return undefined; // an argument that does not coerce: execution reports it
  }
  if (fields.length > options.maxCompletions) {
    return new GraphQLError(
      `This operation asks for ${fields.length} completions; at most ${options.maxCompletions} may run in one operation.`,
      {
        extensions: {
          code: costCodes.maxCompletions,
          completionFields: fields.length,
          maxCompletions: options.maxCompletions,
        },
      },
    );
  }
  const estimates = fields.map((field) => estimateCompletionCost(field.input));
  const estimatedTokens = estimates.reduce((sum, e) => sum + e.totalTokens, 0);
  if (estimatedTokens > options.maxEstimatedTokens) {
    return new GraphQLError(
      `This operation may use up to ${estimatedTokens} tokens (prompts plus maxTokens × max(n, bestOf) per prompt); the limit is ${options.maxEstimatedTokens}.`,
      {
        extensions: {
          code: costCodes.cost,
          estimatedTokens,
          maxEstimatedTokens: options.maxEstimatedTokens,
          promptTokens: estimates.reduce((sum, e) => sum + e.promptTokens, 0),
          maxCompletionTokens: estimates.reduce((sum, e) => sum + e.maxCompletionTokens, 0),
        },
      },
    );
  }
  return undefined;
}

export function useCompletionCostLimit(
  options: CompletionCostOptions,
): Plugin<{ params?: { operationName?: string | null; variables?: Record<string, unknown> | null } }> {
  return {
    onValidate:
      ({ params, context }) =>
      ({ valid, setResult }) => {
        if (!valid) return;
        const request = context.params;
        const refusal = assessOperationCost(
          params.schema,
          params.documentAST,
          request?.operationName,
          request?.variables,
          options,
        );
        if (refusal !== undefined) setResult([refusal]);
      },
  };
}
