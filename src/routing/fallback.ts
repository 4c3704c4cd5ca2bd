import {
  UpstreamBadResponseError,
  UpstreamConfigurationError,
  UpstreamRateLimitError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from '../upstream/errors.js';

/**
 * Whether a failed attempt says "try elsewhere": the deployment is unwell (5xx, refused or reset
 * connections, timeouts, malformed answers), out of quota for now (429: a short retry-after was
 * already waited out by the HTTP provider's retries), or refuses this server's key for it. Never
 * the caller's own mistakes (400-class about the request, a refused pass-through key) or a caller
 * that left: another deployment would answer them the same.
 */
export function shouldFallBack(error: unknown): boolean {
  return (
    error instanceof UpstreamUnavailableError ||
    error instanceof UpstreamTimeoutError ||
    error instanceof UpstreamBadResponseError ||
    error instanceof UpstreamRateLimitError ||
    error instanceof UpstreamConfigurationError
  );
}
