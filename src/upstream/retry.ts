/**
 * Retry policy as small pure functions, so each rule is testable without a network. Retries happen
 * only where a repeated request cannot bill twice: the upstream said "not now" (429, 502-504) or
 * the connection failed before any response.
 */

const RETRYABLE_STATUSES = new Set([429, 502, 503, 504]);

/** Socket errors that mean the request never produced a response (undici and Node codes). */
const RETRYABLE_CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CLOSED',
]);

export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUSES.has(status);
}

export function isRetryableConnectionError(error: unknown): boolean {
  return connectionErrorCode(error) !== undefined;
}

/** The first retryable code found on the error or its causes. */
export function connectionErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as Error & { code?: unknown }).code;
    if (typeof code === 'string' && RETRYABLE_CONNECTION_CODES.has(code)) return code;
    current = current.cause;
  }
  return undefined;
}

type HeaderValue = string | string[] | undefined;

function firstHeader(value: HeaderValue): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * How long the upstream asked us to wait, in ms: `retry-after-ms` (OpenAI's, fractional ms) first,
 * then `retry-after` as seconds or an HTTP date. Unparseable or negative values count as absent.
 */
export function parseRetryAfterMs(
  headers: Record<string, HeaderValue>,
  now = Date.now(),
): number | undefined {
  const ms = Number.parseFloat(firstHeader(headers['retry-after-ms']) ?? '');
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const raw = firstHeader(headers['retry-after'])?.trim();
  if (raw === undefined || raw === '') return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export interface BackoffPolicy {
  baseDelayMs: number;
  maxDelayMs: number;
  /** The longest `retry-after` we honour; a longer request means "give up and tell the client". */
  maxRetryAfterMs: number;
}

/** Exponential backoff with up to 25 % jitter downwards, as openai-node does. */
export function backoffDelayMs(
  retryIndex: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
) {
  const exponential = Math.min(policy.baseDelayMs * 2 ** retryIndex, policy.maxDelayMs);
  return exponential * (1 - random() * 0.25);
}

/**
 * The delay before retry number `retryIndex` (0-based), or `undefined` when waiting is pointless:
 * the upstream asked for longer than we honour, or the wait would outlive the call's deadline.
 */
export function nextRetryDelayMs(options: {
  retryIndex: number;
  retryAfterMs: number | undefined;
  remainingMs: number;
  policy: BackoffPolicy;
  random?: () => number;
}): number | undefined {
  const { retryIndex, retryAfterMs, remainingMs, policy } = options;
  if (retryAfterMs !== undefined && retryAfterMs > policy.maxRetryAfterMs) return undefined;
  const delay = retryAfterMs ?? backoffDelayMs(retryIndex, policy, options.random);
  return delay < remainingMs ? delay : undefined;
}
