import { GraphQLError } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import { errorCodes } from '../error-codes.js';
import { extended } from '../runtime/objects.js';

/**
 * graphql-js reports parse, validation and variable errors without `extensions.code`. Clients
 * branch on codes, so each stage labels its own errors (the names Apollo Server uses).
 */

export const stageCodes = {
  parse: errorCodes.graphqlParseFailed,
  validation: errorCodes.graphqlValidationFailed,
  variables: errorCodes.badUserInput,
  /** Refused before GraphQL parsing: body shape, method, content type, headers. */
  request: errorCodes.badRequest,
} as const;

type ProcessedResult = Parameters<NonNullable<Plugin['onResultProcess']>>[0]['result'];

/** Errors of a single (non-streamed) result still lacking a code get the request-level one. */
function labelRequestErrors(result: ProcessedResult): ProcessedResult {
  if (Array.isArray(result) || !('errors' in result) || result.errors === undefined) return result;
  if (result.errors.every((error) => typeof (error as GraphQLError).extensions?.code === 'string'))
    return result;
  return extended(result, {
    errors: result.errors.map(
      (error) =>
        // Limits that replace the parser (GraphQL Armor's) throw from inside it: still a parse failure.
        withCode(
          error,
          /^Syntax Error/.test(error.message) ? stageCodes.parse : stageCodes.request,
        ) as GraphQLError,
    ),
  });
}

function withCode(error: unknown, code: string): unknown {
  if (!(error instanceof GraphQLError) || typeof error.extensions.code === 'string') return error;
  // Without an HTTP status of its own, a refused request is a 400 for modern clients and a 200
  // for legacy `application/json` ones (the GraphQL-over-HTTP rule yoga follows).
  const http = error.extensions.http ?? { spec: true, status: 400 };
  return createGraphQLError(error.message, {
    nodes: error.nodes ?? null,
    source: error.source ?? null,
    positions: error.positions ?? null,
    path: error.path ?? null,
    originalError: error.originalError ?? null,
    extensions: extended(error.extensions, { code, http }),
  });
}

type ExecutionResultLike = { data?: unknown; errors?: readonly GraphQLError[] };

/** A result with errors and no `data` key failed before execution began: variable coercion. */
function labelVariableErrors<Result extends object>(payload: {
  result: Result | AsyncIterable<unknown>;
  setResult: (result: Result) => void;
}): void {
  const { result } = payload;
  if (Symbol.asyncIterator in result) return;
  const single = result as Result & ExecutionResultLike;
  if (single.data !== undefined || single.errors === undefined) return;
  payload.setResult(
    extended(single, {
      errors: single.errors.map((error) => withCode(error, stageCodes.variables) as GraphQLError),
    }) as Result,
  );
}

export function useErrorCodes(): Plugin {
  return {
    onResultProcess: ({ result, setResult }) => {
      const labelled = labelRequestErrors(result);
      if (labelled !== result) setResult(labelled);
    },
    onParse:
      () =>
      ({ result, replaceParseResult }) => {
        if (result instanceof Error) replaceParseResult(withCode(result, stageCodes.parse));
      },
    onValidate:
      () =>
      ({ result, setResult }) => {
        if (result.length > 0) setResult(result.map((error) => withCode(error, stageCodes.validation)));
      },
    onExecute: () => ({ onExecuteDone: labelVariableErrors }),
    onSubscribe: () => ({ onSubscribeResult: labelVariableErrors }),
  };
}
