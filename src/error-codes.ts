/**
 * Every stable `extensions.code` the service answers with, in one place: GraphQL errors, REST and
 * HTTP-level refusals, and warnings. A leaf module (no imports), so that every layer, down to the
 * HTTP helpers, can name a code without depending on the error mapping in errors.ts.
 */
export const errorCodes = {
  badUserInput: 'BAD_USER_INPUT',
  upstreamRateLimited: 'UPSTREAM_RATE_LIMITED',
  upstreamTimeout: 'UPSTREAM_TIMEOUT',
  upstreamUnavailable: 'UPSTREAM_UNAVAILABLE',
  upstreamBadResponse: 'UPSTREAM_BAD_RESPONSE',
  /** Pass-through mode: the upstream refused the caller's own X-Upstream-Api-Key. */
  upstreamKeyRefused: 'UPSTREAM_KEY_REFUSED',
  clientClosedRequest: 'CLIENT_CLOSED_REQUEST',
  rateLimited: 'RATE_LIMITED',
  /** A hard spend budget of the client key would be passed (`resetAt`, `budget`, `spent`). */
  budgetExceeded: 'BUDGET_EXCEEDED',
  /** The client key may not use this model. */
  modelNotAllowed: 'MODEL_NOT_ALLOWED',
  unauthenticated: 'UNAUTHENTICATED',
  tooManyOperations: 'TOO_MANY_OPERATIONS',
  misdirectedRequest: 'MISDIRECTED_REQUEST',
  shuttingDown: 'SHUTTING_DOWN',
  maxCompletionsExceeded: 'MAX_COMPLETIONS_EXCEEDED',
  costLimitExceeded: 'COST_LIMIT_EXCEEDED',
  limiterUnavailable: 'RATE_LIMITER_UNAVAILABLE',
  storageUnavailable: 'STORAGE_UNAVAILABLE',
  tooManyEntities: 'TOO_MANY_ENTITIES',
  /** ALLOW_RAW_PROMPTS=false: createCompletion, completionStream and the REST face run only templates. */
  forbiddenRawPrompt: 'FORBIDDEN_RAW_PROMPT',
  /** Warnings (`extensions.warnings`): the completion is returned, but `store: true` was not honoured. */
  storeFailed: 'STORE_FAILED',
  storeConflict: 'STORE_CONFLICT',
  /** Warnings: the completion is returned, but the client's rate-limit usage could not be settled yet. */
  usageNotSettled: 'USAGE_NOT_SETTLED',
  upstreamUsageImplausible: 'UPSTREAM_USAGE_IMPLAUSIBLE',
  /** Warnings: the call went through, but the client key has passed a soft spend budget. */
  budgetSoftExceeded: 'BUDGET_SOFT_EXCEEDED',
  /** Refused before GraphQL parsing: body shape, method, headers. */
  badRequest: 'BAD_REQUEST',
  /** No operation of the name given, or several and none named (graphql-tools' own code, kept). */
  operationResolutionFailure: 'OPERATION_RESOLUTION_FAILURE',
  graphqlParseFailed: 'GRAPHQL_PARSE_FAILED',
  graphqlValidationFailed: 'GRAPHQL_VALIDATION_FAILED',
  payloadTooLarge: 'PAYLOAD_TOO_LARGE',
  notAcceptable: 'NOT_ACCEPTABLE',
  unsupportedMediaType: 'UNSUPPORTED_MEDIA_TYPE',
  csrfHeaderRequired: 'CSRF_HEADER_REQUIRED',
  notFound: 'NOT_FOUND',
  persistedQueryNotFound: 'PERSISTED_QUERY_NOT_FOUND',
  persistedQueryOnly: 'PERSISTED_QUERY_ONLY',
  persistedQueryHashMismatch: 'PERSISTED_QUERY_HASH_MISMATCH',
  internal: 'INTERNAL_SERVER_ERROR',
} as const;
