/**
 * Maps failures to OpenAI's error envelope `{error: {message, type, param, code}}` and an HTTP
 * status. The failure is classified once, by src/errors.ts (the code GraphQL clients get too);
 * here each code is only given its REST form, so a new kind of failure is added in one place.
 * Only messages we wrote or the upstream's own reach the client, never a stack trace.
 */

import { errorCodes } from '../error-codes.js';
import { toClientError } from '../errors.js';
import { extended } from '../runtime/objects.js';
import { UpstreamError, UpstreamRequestError } from '../upstream/errors.js';
import { BadRequest } from './request-body.js';

export interface ErrorEnvelope {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export interface MappedError {
  status: number;
  body: ErrorEnvelope;
  headers?: Record<string, string>;
}

function envelope(status: number, message: string, type: string, param: string | null, code: string | null) {
  return { status, body: { error: { message, type, param, code } } } satisfies MappedError;
}

const CLIENT_STATUSES = new Set([400, 404, 409, 413, 422]);

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);

function retryAfter(seconds: unknown): Record<string, string> | undefined {
  return typeof seconds === 'number' ? { 'retry-after': String(Math.max(1, Math.ceil(seconds))) } : undefined;
}

/** The REST form of each code, from the classified error (`mapped`) and, for wire details, the original. */
type RestForm = (
  mapped: { message: string; extensions: Record<string, unknown> },
  error: unknown,
) => MappedError;

const serverError =
  (status: number, message: string, code: string | null = null): RestForm =>
  () =>
    envelope(status, message, 'server_error', null, code);

const withHeaders = (mapped: MappedError, headers: Record<string, string> | undefined): MappedError =>
  headers === undefined ? mapped : extended(mapped, { headers });

const forms: Partial<Record<string, RestForm>> = {
  [errorCodes.badUserInput]: ({ message, extensions }, error) => {
    if (error instanceof UpstreamRequestError) {
      // The upstream refused the request: its client status where it is one (model_not_found: 404).
      const code = error.upstreamCode ?? null;
      const status =
        code === 'model_not_found'
          ? 404
          : CLIENT_STATUSES.has(error.status ?? 0)
            ? (error.status as number)
            : 400;
      return envelope(status, error.message, 'invalid_request_error', error.param ?? null, code);
    }
    // Our own checks name the wire parameter, as the REST caller wrote it.
    const wireMessage = error instanceof Error ? error.message : message;
    return envelope(400, wireMessage, 'invalid_request_error', text(extensions.param), null);
  },
  // The same ceiling as a GraphQL operation's; `max_tokens` is what a caller can lower.
  [errorCodes.costLimitExceeded]: ({ message }) =>
    envelope(400, message, 'invalid_request_error', 'max_tokens', 'cost_limit_exceeded'),
  [errorCodes.rateLimited]: ({ message, extensions }) =>
    withHeaders(
      envelope(429, message, text(extensions.limit) ?? 'requests', null, 'rate_limit_exceeded'),
      retryAfter(extensions.retryAfter),
    ),
  [errorCodes.budgetExceeded]: ({ message, extensions }) =>
    withHeaders(
      envelope(429, message, 'budget_exceeded', null, 'budget_exceeded'),
      retryAfter((Date.parse(String(extensions.resetAt)) - Date.now()) / 1000),
    ),
  [errorCodes.forbiddenRawPrompt]: ({ message }) =>
    envelope(403, message, 'invalid_request_error', 'prompt', 'forbidden_raw_prompt'),
  [errorCodes.modelNotAllowed]: ({ message }) =>
    envelope(403, message, 'invalid_request_error', 'model', 'model_not_allowed'),
  [errorCodes.limiterUnavailable]: ({ message }) => envelope(503, message, 'server_error', null, null),
  // The caller's own pass-through key: theirs to fix, told as OpenAI tells it.
  [errorCodes.upstreamKeyRefused]: ({ message }) =>
    envelope(401, message, 'invalid_request_error', null, 'invalid_api_key'),
  [errorCodes.upstreamRateLimited]: ({ message, extensions }) =>
    withHeaders(
      envelope(429, message, 'requests', null, text(extensions.upstreamCode) ?? 'rate_limit_exceeded'),
      retryAfter(extensions.retryAfter),
    ),
  [errorCodes.upstreamTimeout]: serverError(504, 'The upstream did not answer in time.', 'timeout'),
  [errorCodes.upstreamUnavailable]: serverError(503, 'The completions backend is unavailable. Please retry.'),
  [errorCodes.upstreamBadResponse]: serverError(502, 'The completions backend sent an invalid response.'),
  [errorCodes.clientClosedRequest]: () =>
    envelope(499, 'The request was cancelled.', 'invalid_request_error', null, 'cancelled'),
};

export function mapError(err: unknown): MappedError {
  if (err instanceof BadRequest) {
    return envelope(err.status, err.message, 'invalid_request_error', err.param, err.code);
  }
  const mapped = toClientError(err);
  const form = forms[String(mapped?.extensions.code)];
  if (mapped !== undefined && form !== undefined) {
    return form({ message: mapped.message, extensions: mapped.extensions as Record<string, unknown> }, err);
  }
  if (err instanceof UpstreamError) {
    // Configuration/credential failures are ours, not the client's: nothing in them for the client.
    return serverError(502, 'The completions backend could not serve this request.')(
      { message: '', extensions: {} },
      err,
    );
  }
  return envelope(500, 'The server had an error while processing your request.', 'server_error', null, null);
}

/**
 * The stable code of a failure (the catalogue's, as GraphQL clients get it), for the access line,
 * metrics and spans: never the upstream's own `code` text, and one vocabulary across both faces.
 */
export function outcomeOf(err: unknown): string {
  if (err instanceof BadRequest) {
    if (err.status === 404) return errorCodes.notFound;
    if (err.status === 413) return errorCodes.payloadTooLarge;
    return err.status === 415 ? errorCodes.unsupportedMediaType : errorCodes.badUserInput;
  }
  const code = toClientError(err)?.extensions.code;
  return typeof code === 'string' ? code : errorCodes.internal;
}
