import { GraphQLError } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';

/**
 * graphql-js reports parse, validation and variable errors without `extensions.code`. Clients
 * branch on codes, so each stage labels its own errors (the names Apollo Server uses).
 */

export const stageCodes = {
  parse: 'GRAPHQL_PARSE_FAILED',
  validation: 'GRAPHQL_VALIDATION_FAILED',
  variables: 'BAD_USER_INPUT',
} as const;

function withCode(error: unknown, code: string): unknown {
  if (!(error instanceof GraphQLError) || typeof error.extensions.code === 'string') return error;
  return createGraphQLError(error.message, {
    nodes: error.nodes ?? null,
    source: error.source ?? null,
    positions: error.positions ?? null,
    path: error.path ?? null,
    originalError: error.originalError ?? null,
    extensions: { ...error.extensions, code },
  });
}

export function useErrorCodes(): Plugin {
  return {
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
    onExecute: () => ({
      onExecuteDone: ({ result, setResult }) => {
        // A result with errors and no `data` key failed before execution began: variable coercion.
        if (Symbol.asyncIterator in result || result.data !== undefined || result.errors === undefined)
          return;
        setResult({
          ...result,
          errors: result.errors.map((error) => withCode(error, stageCodes.variables) as GraphQLError),
        });
      },
    }),
    onSubscribe: () => ({
      onSubscribeResult: ({ result, setResult }) => {
        if (Symbol.asyncIterator in result || result.data !== undefined || result.errors === undefined)
          return;
        setResult({
          ...result,
          errors: result.errors.map((error) => withCode(error, stageCodes.variables) as GraphQLError),
        });
      },
    }),
  };
}
