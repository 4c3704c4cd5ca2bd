import { describe, expect, it } from 'vitest';
import { ClientRateLimitError } from '../../src/limits/client-budget.js';
import { LimiterUnavailableError } from '../../src/limits/index.js';
import { mapError } from '../../src/rest/error-envelope.js';
import { BadRequest } from '../../src/rest/request-body.js';
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
} from '../../src/upstream/errors.js';

/** Each failure → OpenAI's `{error: {message, type, param, code}}`, an HTTP status and headers. */

const envelope = (message: string, type: string, param: string | null, code: string | null) => ({
  error: { message, type, param, code },
});

describe('mapError', () => {
  it('BadRequest: its own status, message, param and code', () => {
    expect(mapError(new BadRequest('temperature must be a number.', 'temperature'))).toEqual({
      status: 400,
      body: envelope('temperature must be a number.', 'invalid_request_error', 'temperature', null),
    });
    expect(
      mapError(new BadRequest('Request body exceeds 1024 bytes.', null, 413, 'payload_too_large')),
    ).toEqual({
      status: 413,
      body: envelope('Request body exceeds 1024 bytes.', 'invalid_request_error', null, 'payload_too_large'),
    });
  });

  it('ClientRateLimitError: 429 with retry-after and the limit as the type', () => {
    const error = new ClientRateLimitError('requests', 7, 60);
    expect(mapError(error)).toEqual({
      status: 429,
      body: envelope(error.message, 'requests', null, 'rate_limit_exceeded'),
      headers: { 'retry-after': '7' },
    });
    expect(mapError(new ClientRateLimitError('tokens', 1, 500)).body.error.type).toBe('tokens');
  });

  it('LimiterUnavailableError: 503 without the store’s address', () => {
    const mapped = mapError(
      new LimiterUnavailableError('Rate limit store redis://10.0.0.5:6379 is unavailable'),
    );
    expect(mapped).toEqual({
      status: 503,
      body: envelope(
        'Rate limits cannot be checked right now; no call was made.',
        'server_error',
        null,
        null,
      ),
    });
  });

  describe('UpstreamRequestError', () => {
    it('model_not_found: 404, whatever status it came with', () => {
      const error = new UpstreamRequestError('The model `x` does not exist', {
        status: 400,
        param: 'model',
        upstreamCode: 'model_not_found',
      });
      expect(mapError(error)).toEqual({
        status: 404,
        body: envelope('The model `x` does not exist', 'invalid_request_error', 'model', 'model_not_found'),
      });
    });

    it.each([400, 404, 409, 413, 422])('keeps the client status %i', (status) => {
      expect(mapError(new UpstreamRequestError('x', { status })).status).toBe(status);
    });

    it.each([[undefined], [401], [418], [500]])('turns status %s into 400', (status) => {
      const mapped = mapError(new UpstreamRequestError('x', status === undefined ? {} : { status }));
      expect(mapped).toEqual({ status: 400, body: envelope('x', 'invalid_request_error', null, null) });
    });
  });

  describe('UpstreamRateLimitError', () => {
    it('429 with the upstream’s code and retry-after', () => {
      const error = new UpstreamRateLimitError('Rate limit reached', {
        retryAfterSeconds: 20,
        upstreamCode: 'insufficient_quota',
      });
      expect(mapError(error)).toEqual({
        status: 429,
        body: envelope('Rate limit reached', 'requests', null, 'insufficient_quota'),
        headers: { 'retry-after': '20' },
      });
    });

    it('rate_limit_exceeded and no retry-after header when the upstream gave neither', () => {
      expect(mapError(new UpstreamRateLimitError('Slow down'))).toEqual({
        status: 429,
        body: envelope('Slow down', 'requests', null, 'rate_limit_exceeded'),
      });
    });
  });

  it.each([
    [
      'UpstreamTimeoutError',
      new UpstreamTimeoutError('x'),
      504,
      'The upstream did not answer in time.',
      'timeout',
    ],
    [
      'UpstreamUnavailableError',
      new UpstreamUnavailableError('x'),
      503,
      'The completions backend is unavailable. Please retry.',
      null,
    ],
    [
      'UpstreamBadResponseError',
      new UpstreamBadResponseError('x'),
      502,
      'The completions backend sent an invalid response.',
      null,
    ],
  ])('%s: %i with our own message, not the upstream’s', (_name, error, status, message, code) => {
    expect(mapError(error)).toEqual({ status, body: envelope(message, 'server_error', null, code) });
  });

  it('UpstreamCallerKeyError: 401 invalid_api_key, the caller’s own key to fix', () => {
    expect(
      mapError(new UpstreamCallerKeyError('The upstream refused your X-Upstream-Api-Key.', { status: 401 })),
    ).toEqual({
      status: 401,
      body: {
        error: {
          message: 'The upstream refused your X-Upstream-Api-Key.',
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_api_key',
        },
      },
    });
  });

  it('UpstreamAbortedError: 499 cancelled', () => {
    expect(mapError(new UpstreamAbortedError('x'))).toEqual({
      status: 499,
      body: envelope('The request was cancelled.', 'invalid_request_error', null, 'cancelled'),
    });
  });

  it('UpstreamConfigurationError and unknown upstream errors: 502 with nothing from the upstream', () => {
    const expected = {
      status: 502,
      body: envelope('The completions backend could not serve this request.', 'server_error', null, null),
    };
    expect(
      mapError(new UpstreamConfigurationError('Incorrect API key provided: sk-abc', { status: 401 })),
    ).toEqual(expected);
    class UpstreamSomethingNewError extends UpstreamError {}
    expect(mapError(new UpstreamSomethingNewError('detail'))).toEqual(expected);
  });

  it.each([
    ['a plain Error', new Error('ECONNREFUSED 10.0.0.5:5432')],
    ['a string', 'boom'],
    ['undefined', undefined],
  ])('anything else (%s): 500 with a generic message', (_name, error) => {
    const mapped = mapError(error);
    expect(mapped).toEqual({
      status: 500,
      body: envelope('The server had an error while processing your request.', 'server_error', null, null),
    });
    expect(JSON.stringify(mapped)).not.toContain('10.0.0.5');
  });
});
