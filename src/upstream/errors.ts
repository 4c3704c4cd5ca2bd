/**
 * Typed failures of a completions provider. One class per way a call can fail, chosen by what the
 * caller should do next, not by transport detail. `src/errors.ts` maps each to a GraphQL code.
 */

export interface UpstreamErrorDetails {
  /** HTTP status the upstream answered with, when it answered. */
  status?: number;
  /** The upstream's own request id, for support tickets. */
  requestId?: string;
  /** The upstream's machine-readable code (`model_not_found`, `rate_limit_exceeded`, ...). */
  upstreamCode?: string;
  cause?: unknown;
}

export abstract class UpstreamError extends Error {
  readonly status: number | undefined;
  readonly requestId: string | undefined;
  readonly upstreamCode: string | undefined;

  constructor(message: string, details: UpstreamErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.status = details.status;
    this.requestId = details.requestId;
    this.upstreamCode = details.upstreamCode;
  }
}

/** The upstream refused the request itself (400, 404, 409, 422): the caller must change it. */
export class UpstreamRequestError extends UpstreamError {
  readonly param: string | undefined;
  /**
   * The GraphQL argument at fault when it is not `createCompletion`'s `input` (a template field:
   * the field's own name, or `representations` for an entity batch).
   */
  readonly argument: string | undefined;

  constructor(message: string, details: UpstreamErrorDetails & { param?: string; argument?: string } = {}) {
    super(message, details);
    this.param = details.param;
    this.argument = details.argument;
  }

  /** The same refusal, blamed on `argument`. */
  withArgument(argument: string): UpstreamRequestError {
    return new UpstreamRequestError(this.message, {
      cause: this,
      argument,
      ...(this.status === undefined ? {} : { status: this.status }),
      ...(this.requestId === undefined ? {} : { requestId: this.requestId }),
      ...(this.upstreamCode === undefined ? {} : { upstreamCode: this.upstreamCode }),
      ...(this.param === undefined ? {} : { param: this.param }),
    });
  }
}

/**
 * The upstream refused this service itself: credentials (401, 403) or an endpoint that does not
 * exist at the configured base URL. An operator problem, never the client's.
 */
export class UpstreamConfigurationError extends UpstreamError {}

/**
 * The upstream refused the caller's own key (401, 403 in pass-through mode): the caller must fix
 * their `X-Upstream-Api-Key`; nothing is wrong with this service or with the upstream.
 */
export class UpstreamCallerKeyError extends UpstreamError {}

/** 429 from the upstream, after retries ran out. */
export class UpstreamRateLimitError extends UpstreamError {
  /** Whole seconds the upstream asked us to wait, when it said. */
  readonly retryAfterSeconds: number | undefined;

  constructor(message: string, details: UpstreamErrorDetails & { retryAfterSeconds?: number } = {}) {
    super(message, details);
    this.retryAfterSeconds = details.retryAfterSeconds;
  }
}

/** The deadline passed before the upstream answered (or finished answering). */
export class UpstreamTimeoutError extends UpstreamError {}

/** The upstream could not be reached or failed on its side (5xx, refused, reset), after retries. */
export class UpstreamUnavailableError extends UpstreamError {}

/** The upstream answered 2xx with something that is not a valid completion. */
export class UpstreamBadResponseError extends UpstreamError {}

/** The caller went away (client disconnect, unsubscribe) and the call was cancelled. */
export class UpstreamAbortedError extends UpstreamError {}
