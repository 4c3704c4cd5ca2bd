import { GraphQLError } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import { argumentForParam } from './completions/mapping.js';
import { CostLimitError, TooManyCompletionsError } from './completions/operation-limits.js';
import { InvalidRequestError } from './completions/validation.js';
import { errorCodes } from './error-codes.js';
import { ClientRateLimitError } from './limits/client-budget.js';
import { LimiterUnavailableError } from './limits/index.js';
import { BudgetExceededError, ModelNotAllowedError } from './limits/spend-budget.js';
import { extended } from './runtime/objects.js';
import { StorageError } from './storage/index.js';
import { RawPromptForbiddenError, TemplateVariableError } from './templates/errors.js';
import {
  UpstreamAbortedError,
  UpstreamBadResponseError,
  UpstreamCallerKeyError,
  UpstreamConfigurationError,
  UpstreamError,
  UpstreamRateLimitError,
  UpstreamRequestError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from './upstream/errors.js';

/**
 * The one place where typed failures become GraphQL errors with a stable `extensions.code`.
 * Yoga calls `toClientError` from its masking hook; anything not recognised here stays masked.
 */

export { errorCodes };

function withRequestId(error: UpstreamError, extensions: Record<string, unknown>): Record<string, unknown> {
  return error.requestId === undefined
    ? extensions
    : extended(extensions, { upstreamRequestId: error.requestId });
}

/** The server's shutdown grace period ended while this stream was open. */
export class ShuttingDownError extends Error {
  constructor() {
    super('The server is shutting down; reconnect to continue (another instance will answer).');
    this.name = 'ShuttingDownError';
  }
}

/** Maps a known error to what the client may see, or returns undefined for "mask it". */
export function toClientError(error: unknown, path?: readonly (string | number)[]): GraphQLError | undefined {
  const options = (extensions: Record<string, unknown>) => ({ extensions, ...(path ? { path } : {}) });
  if (error instanceof ShuttingDownError) {
    return createGraphQLError(error.message, options({ code: errorCodes.shuttingDown }));
  }
  if (error instanceof InvalidRequestError) {
    const argument = argumentForParam(error.violation.param);
    return createGraphQLError(
      `${argument} ${error.violation.problem}`,
      options({ code: errorCodes.badUserInput, argument, param: error.violation.param }),
    );
  }
  if (error instanceof RawPromptForbiddenError) {
    return createGraphQLError(error.message, options({ code: errorCodes.forbiddenRawPrompt }));
  }
  if (error instanceof TemplateVariableError) {
    return createGraphQLError(
      error.message,
      options({ code: errorCodes.badUserInput, argument: error.argument }),
    );
  }
  if (error instanceof TooManyCompletionsError) {
    return createGraphQLError(
      error.message,
      options({
        code: errorCodes.maxCompletionsExceeded,
        completionFields: error.completionFields,
        maxCompletions: error.maxCompletions,
      }),
    );
  }
  if (error instanceof CostLimitError) {
    return createGraphQLError(
      error.message,
      options({
        code: errorCodes.costLimitExceeded,
        estimatedTokens: error.estimatedTokens,
        maxEstimatedTokens: error.maxEstimatedTokens,
        promptTokens: error.promptTokens,
        maxCompletionTokens: error.maxCompletionTokens,
      }),
    );
  }
  if (error instanceof ClientRateLimitError) {
    return createGraphQLError(
      error.message,
      options({
        code: errorCodes.rateLimited,
        retryAfter: error.retryAfterSeconds,
        limit: error.limit,
        limitValue: error.limitValue,
      }),
    );
  }
  if (error instanceof BudgetExceededError) {
    const { budget } = error;
    return createGraphQLError(
      error.message,
      options({
        code: errorCodes.budgetExceeded,
        resetAt: error.resetAt.toISOString(),
        budget: {
          amount: budget.amount,
          unit: budget.unit.toUpperCase(),
          period: budget.label.split('/')[1],
        },
        spent: error.spent,
      }),
    );
  }
  if (error instanceof ModelNotAllowedError) {
    return createGraphQLError(
      error.message,
      options({ code: errorCodes.modelNotAllowed, argument: error.argument, model: error.model }),
    );
  }
  if (error instanceof LimiterUnavailableError) {
    // Fail closed: without the shared counters no paid call may start.
    return createGraphQLError(
      'Rate limits cannot be checked right now; no call was made.',
      options({ code: errorCodes.limiterUnavailable }),
    );
  }
  if (error instanceof StorageError) {
    return createGraphQLError(
      'Stored completions cannot be read right now.',
      options({ code: errorCodes.storageUnavailable }),
    );
  }
  if (!(error instanceof UpstreamError)) return undefined;
  if (error instanceof UpstreamRequestError) {
    const argument = error.argument ?? argumentForParam(error.param);
    return createGraphQLError(
      error.message,
      options(
        withRequestId(error, {
          code: errorCodes.badUserInput,
          argument,
          ...(error.param === undefined ? {} : { param: error.param }),
          ...(error.upstreamCode === undefined ? {} : { upstreamCode: error.upstreamCode }),
        }),
      ),
    );
  }
  if (error instanceof UpstreamRateLimitError) {
    return createGraphQLError(
      error.message,
      options(
        withRequestId(error, {
          code: errorCodes.upstreamRateLimited,
          ...(error.retryAfterSeconds === undefined ? {} : { retryAfter: error.retryAfterSeconds }),
          // `insufficient_quota` (billing) is not `rate_limit_exceeded` (wait): clients act differently.
          ...(error.upstreamCode === undefined ? {} : { upstreamCode: error.upstreamCode }),
        }),
      ),
    );
  }
  const code =
    error instanceof UpstreamTimeoutError
      ? errorCodes.upstreamTimeout
      : error instanceof UpstreamUnavailableError
        ? errorCodes.upstreamUnavailable
        : error instanceof UpstreamBadResponseError
          ? errorCodes.upstreamBadResponse
          : error instanceof UpstreamAbortedError
            ? errorCodes.clientClosedRequest
            : undefined;
  if (code !== undefined) return createGraphQLError(error.message, options(withRequestId(error, { code })));
  if (error instanceof UpstreamCallerKeyError) {
    return createGraphQLError(
      error.message,
      options(
        withRequestId(error, {
          code: errorCodes.upstreamKeyRefused,
          upstreamStatus: error.status,
          ...(error.upstreamCode === undefined ? {} : { upstreamCode: error.upstreamCode }),
        }),
      ),
    );
  }
  if (error instanceof UpstreamConfigurationError) {
    // The client can do nothing about our credentials: say so without any upstream detail.
    return createGraphQLError(
      'The completions upstream is misconfigured on this server.',
      options(withRequestId(error, { code: errorCodes.internal })),
    );
  }
  return undefined;
}

/** The original error behind a GraphQL error raised by a resolver. */
export function originalError(error: unknown): unknown {
  let current = error;
  while (
    current instanceof GraphQLError &&
    current.originalError !== undefined &&
    current.originalError !== current
  ) {
    current = current.originalError;
  }
  return current;
}
