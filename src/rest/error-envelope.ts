/**
 * Maps failures to OpenAI's error envelope `{error: {message, type, param, code}}` and an HTTP
 * status. Only messages we wrote or the upstream's own reach the client, never a stack trace.
 */

import { ClientRateLimitError } from '../completions/client-limits.js';
import { CostLimitError } from '../completions/operation-limits.js';
import { BudgetExceededError, ModelNotAllowedError } from '../completions/spend-budget.js';
import { InvalidRequestError } from '../completions/validation.js';
import { LimiterUnavailableError } from '../limits/index.js';
import { RawPromptForbiddenError } from '../templates/errors.js';
import {
  UpstreamAbortedError,
  UpstreamBadResponseError,
  UpstreamCallerKeyError,
  UpstreamError,
  UpstreamRateLimitError,
  UpstreamRequestError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from '../upstream/errors.js';
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

export function mapError(err: unknown): MappedError {
  if (err instanceof BadRequest) {
    return envelope(err.status, err.message, 'invalid_request_error', err.param, err.code);
  }
  if (err instanceof InvalidRequestError) {
    const { param, problem } = err.violation;
    return envelope(400, `${param} ${problem}`, 'invalid_request_error', param, null);
  }
  if (err instanceof CostLimitError) {
    // The same ceiling as a GraphQL operation's; `max_tokens` is what a caller can lower.
    return envelope(400, err.message, 'invalid_request_error', 'max_tokens', 'cost_limit_exceeded');
  }
  if (err instanceof ClientRateLimitError) {
    const mapped: MappedError = envelope(429, err.message, err.limit, null, 'rate_limit_exceeded');
    mapped.headers = { 'retry-after': String(err.retryAfterSeconds) };
    return mapped;
  }
  if (err instanceof BudgetExceededError) {
    const mapped: MappedError = envelope(429, err.message, 'budget_exceeded', null, 'budget_exceeded');
    mapped.headers = {
      'retry-after': String(Math.max(1, Math.ceil((err.resetAt.getTime() - Date.now()) / 1000))),
    };
    return mapped;
  }
  if (err instanceof RawPromptForbiddenError) {
    return envelope(403, err.message, 'invalid_request_error', 'prompt', 'forbidden_raw_prompt');
  }
  if (err instanceof ModelNotAllowedError) {
    return envelope(403, err.message, 'invalid_request_error', 'model', 'model_not_allowed');
  }
  if (err instanceof LimiterUnavailableError) {
    return envelope(
      503,
      'Rate limits cannot be checked right now; no call was made.',
      'server_error',
      null,
      null,
    );
  }
  if (err instanceof UpstreamCallerKeyError) {
    // The caller's own pass-through key: theirs to fix, told as OpenAI tells it.
    return envelope(401, err.message, 'invalid_request_error', null, 'invalid_api_key');
  }
  if (err instanceof UpstreamRequestError) {
    const code = err.upstreamCode ?? null;
    const status =
      code === 'model_not_found' ? 404 : CLIENT_STATUSES.has(err.status ?? 0) ? (err.status as number) : 400;
    return envelope(status, err.message, 'invalid_request_error', err.param ?? null, code);
  }
  if (err instanceof UpstreamRateLimitError) {
    const mapped: MappedError = envelope(
      429,
      err.message,
      'requests',
      null,
      err.upstreamCode ?? 'rate_limit_exceeded',
    );
    if (err.retryAfterSeconds !== undefined)
      mapped.headers = { 'retry-after': String(err.retryAfterSeconds) };
    return mapped;
  }
  if (err instanceof UpstreamTimeoutError) {
    return envelope(504, 'The upstream did not answer in time.', 'server_error', null, 'timeout');
  }
  if (err instanceof UpstreamUnavailableError) {
    return envelope(503, 'The completions backend is unavailable. Please retry.', 'server_error', null, null);
  }
  if (err instanceof UpstreamBadResponseError) {
    return envelope(502, 'The completions backend sent an invalid response.', 'server_error', null, null);
  }
  if (err instanceof UpstreamAbortedError) {
    return envelope(499, 'The request was cancelled.', 'invalid_request_error', null, 'cancelled');
  }
  if (err instanceof UpstreamError) {
    // Configuration/credential failures are ours, not the client's: nothing in them for the client.
    return envelope(502, 'The completions backend could not serve this request.', 'server_error', null, null);
  }
  return envelope(500, 'The server had an error while processing your request.', 'server_error', null, null);
}
