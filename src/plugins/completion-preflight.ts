import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { estimateCompletionCost } from '../completions/cost.js';
import { prepareRequest } from '../completions/service.js';
import { toClientError } from '../errors.js';
import type { WireCompletionRequest } from '../upstream/wire.js';
import { findPaidFields, type PaidField } from './paid-fields.js';

/**
 * The checks that keep a paid call from ever starting, run after validation and before any
 * resolver: each completion's parameters against the API's rules, the number of paid fields, and
 * an LLM-aware price of the whole operation in tokens. They are not a validation rule because
 * they depend on the variables, and yoga caches validation results per document: a refusal
 * computed there would be served to the next request with other variables.
 */

export const preflightCodes = {
  maxCompletions: 'MAX_COMPLETIONS_EXCEEDED',
  cost: 'COST_LIMIT_EXCEEDED',
} as const;

export interface PreflightOptions {
  /** Paid fields allowed in one operation. */
  maxCompletions: number;
  /** Estimated tokens (prompts + the most that may be generated) allowed in one operation. */
  maxEstimatedTokens: number;
}

/** Status 400 under `application/graphql-response+json`, 200 for legacy JSON clients, as yoga does. */
const requestError = { spec: true, status: 400 } as const;

/** Each field's checked wire request, or the refusal of the first one that breaks a rule. */
function checkRequests(fields: readonly PaidField[]): WireCompletionRequest[] | GraphQLError {
  const requests: WireCompletionRequest[] = [];
  for (const field of fields) {
    try {
      requests.push(prepareRequest(field.input, field.name === 'completionStream'));
    } catch (error) {
      const mapped = toClientError(error);
      if (mapped === undefined) throw error;
      return new GraphQLError(mapped.message, { extensions: { ...mapped.extensions, http: requestError } });
    }
  }
  return requests;
}

function refuseTooMany(fields: readonly PaidField[], options: PreflightOptions): GraphQLError | undefined {
  if (fields.length <= options.maxCompletions) return undefined;
  return new GraphQLError(
    `This operation asks for ${fields.length} completions; at most ${options.maxCompletions} may run in one operation.`,
    {
      extensions: {
        code: preflightCodes.maxCompletions,
        completionFields: fields.length,
        maxCompletions: options.maxCompletions,
        http: requestError,
      },
    },
  );
}

function refuseTooCostly(
  requests: readonly WireCompletionRequest[],
  options: PreflightOptions,
): GraphQLError | undefined {
  const estimates = requests.map(estimateCompletionCost);
  const estimatedTokens = estimates.reduce((sum, e) => sum + e.totalTokens, 0);
  if (estimatedTokens <= options.maxEstimatedTokens) return undefined;
  return new GraphQLError(
    `This operation may use up to ${estimatedTokens} tokens (prompts plus maxTokens × max(n, bestOf) per prompt); the limit is ${options.maxEstimatedTokens}.`,
    {
      extensions: {
        code: preflightCodes.cost,
        estimatedTokens,
        maxEstimatedTokens: options.maxEstimatedTokens,
        promptTokens: estimates.reduce((sum, e) => sum + e.promptTokens, 0),
        maxCompletionTokens: estimates.reduce((sum, e) => sum + e.maxCompletionTokens, 0),
        http: requestError,
      },
    },
  );
}

type ExecutionArgs = Parameters<NonNullable<Plugin['onExecute']>>[0]['args'];

function refuse(args: ExecutionArgs, options: PreflightOptions): GraphQLError | undefined {
  const variables = args.variableValues as Record<string, unknown> | null | undefined;
  const fields = findPaidFields(args.schema, args.document, args.operationName, variables);
  if (fields === undefined || fields.length === 0) return undefined;
  const tooMany = refuseTooMany(fields, options);
  if (tooMany !== undefined) return tooMany;
  const requests = checkRequests(fields);
  return requests instanceof GraphQLError ? requests : refuseTooCostly(requests, options);
}

export function useCompletionPreflight(options: PreflightOptions): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const refusal = refuse(args, options);
      if (refusal !== undefined) setResultAndStopExecution({ errors: [refusal] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const refusal = refuse(args, options);
      if (refusal !== undefined) setResultAndStopExecution({ errors: [refusal] });
    },
  };
}
