import { extended } from '../runtime/objects.js';
import {
  UpstreamBadResponseError,
  UpstreamCallerKeyError,
  UpstreamConfigurationError,
  type UpstreamError,
  UpstreamRateLimitError,
  UpstreamRequestError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from './errors.js';
import { redactSecrets } from './redact.js';

/**
 * One switch from an upstream's non-2xx answer to a typed error, as openai-node's
 * `APIError.generate` does. Understands OpenAI's envelope `{error: {message, type, param, code}}`
 * and the flatter shapes compatible servers send (`{error: "..."}`, `{message, ...}`, `{detail}`).
 */

interface ErrorEnvelope {
  message: string | undefined;
  param: string | undefined;
  code: string | undefined;
}

function stringOrUndefined(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number') return String(value);
  return undefined;
}

export function parseErrorEnvelope(bodyText: string): ErrorEnvelope | undefined {
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null) return undefined;
  const record = body as Record<string, unknown>;
  const inner = record.error;
  const source =
    typeof inner === 'object' && inner !== null
      ? (inner as Record<string, unknown>)
      : (record as Record<string, unknown>);
  const message = stringOrUndefined(typeof inner === 'string' ? inner : (source.message ?? source.detail));
  if (message === undefined && source.code === undefined) return undefined;
  return {
    message,
    param: stringOrUndefined(source.param),
    code: stringOrUndefined(source.code ?? source.type),
  };
}

export interface ErrorResponseContext {
  status: number;
  bodyText: string;
  requestId: string | undefined;
  retryAfterMs: number | undefined;
  /** Secrets to scrub from any upstream text that is kept. */
  secrets: readonly (string | undefined)[];
  /** The call carried the caller's own key (pass-through), not this service's. */
  callerKey?: boolean;
}

/**
 * The longest wait an upstream's 429 is believed for: clients are told it, and routing takes the
 * deployment out of rotation for it (one answer asking for years would bench it until a restart).
 */
export const MAX_RETRY_AFTER_SECONDS = 300;

/**
 * An upstream's `code` or `param` when it is a short identifier that holds no secret, else
 * undefined: both reach clients, logs and spans as they are, so an upstream echoing a key in them
 * (or any text) must not carry it there.
 */
function safeWord(value: string | undefined, secrets: readonly (string | undefined)[]): string | undefined {
  if (value === undefined || !/^[A-Za-z0-9_.[\]-]{1,64}$/.test(value)) return undefined;
  return redactSecrets(value, secrets) === value ? value : undefined;
}

export function errorFromResponse(context: ErrorResponseContext): UpstreamError {
  const { status, requestId } = context;
  const parsed = parseErrorEnvelope(context.bodyText);
  const envelope =
    parsed === undefined
      ? undefined
      : extended(parsed, {
          code: safeWord(parsed.code, context.secrets),
          param: safeWord(parsed.param, context.secrets),
        });
  const upstreamCode = envelope?.code;
  const details = { status, requestId, upstreamCode };
  const message =
    envelope?.message === undefined ? undefined : redactSecrets(envelope.message, context.secrets);

  if ((status === 401 || status === 403) && context.callerKey === true) {
    // The caller's key, not ours: their problem to fix, told with the upstream's (scrubbed) reason.
    return new UpstreamCallerKeyError(
      `The upstream refused the key sent in X-Upstream-Api-Key (HTTP ${status})${message === undefined ? '.' : `: ${message}`}`,
      details,
    );
  }
  if (status === 401 || status === 403) {
    // The upstream's text names (part of) our key: it is never forwarded.
    return new UpstreamConfigurationError('The upstream refused this service’s credentials.', details);
  }
  if (status === 404 && envelope === undefined) {
    return new UpstreamConfigurationError(
      'The upstream has no completions endpoint at the configured URL.',
      details,
    );
  }
  if (status === 429) {
    const quota = upstreamCode === 'insufficient_quota';
    return new UpstreamRateLimitError(
      quota
        ? 'The upstream quota of this service is exhausted.'
        : 'The upstream is rate limiting this service.',
      extended(details, {
        retryAfterSeconds:
          quota || context.retryAfterMs === undefined
            ? undefined
            : Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(1, Math.ceil(context.retryAfterMs / 1000))),
      }),
    );
  }
  if (status === 408) return new UpstreamTimeoutError('The upstream timed out.', details);
  if (status === 400 || status === 404 || status === 409 || status === 413 || status === 422) {
    const param = envelope?.param ?? (upstreamCode === 'model_not_found' ? 'model' : undefined);
    return new UpstreamRequestError(
      message ?? `The upstream rejected the request (HTTP ${status}).`,
      extended(details, param === undefined ? {} : { param }),
    );
  }
  if (status >= 500) {
    return new UpstreamUnavailableError(`The upstream failed (HTTP ${status}).`, details);
  }
  return new UpstreamBadResponseError(`The upstream answered with unexpected HTTP ${status}.`, details);
}

/** Whether a 429 is worth retrying: an exhausted quota does not come back in seconds. */
export function isRetryableRateLimit(bodyText: string): boolean {
  return parseErrorEnvelope(bodyText)?.code !== 'insufficient_quota';
}
