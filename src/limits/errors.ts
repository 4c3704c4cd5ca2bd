/**
 * Typed failures of the limiter. The caller fails closed on `LimiterUnavailableError` (refuses the
 * paid call) rather than letting traffic through unmetered; messages never carry store credentials.
 */

export class LimiterUnavailableError extends Error {
  override readonly name = 'LimiterUnavailableError';
  /** The low-level error code when there is one (ECONNREFUSED, ETIMEDOUT, ...), for logs and metrics. */
  readonly code: string | undefined;

  constructor(message: string, code?: string) {
    super(message);
    this.code = code;
  }
}

/** A bad limiter configuration (unparseable store URL): a deployment problem, not a runtime outage. */
export class LimiterConfigError extends Error {
  override readonly name = 'LimiterConfigError';
}
