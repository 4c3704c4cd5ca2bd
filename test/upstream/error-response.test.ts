import { describe, expect, it } from 'vitest';
import {
  errorFromResponse,
  isRetryableRateLimit,
  parseErrorEnvelope,
} from '../../src/upstream/error-response.js';
import {
  UpstreamBadResponseError,
  UpstreamCallerKeyError,
  UpstreamConfigurationError,
  UpstreamRateLimitError,
  UpstreamRequestError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from '../../src/upstream/errors.js';
import { recorded } from '../helpers/recorded.js';

/** Every upstream status to its typed error, with what may and may not travel with it. */

const serverKey = 'sk-server-0123456789abcdefSERVER';
const callerKey = 'sk-caller-0123456789abcdefCALLER';
const envelope = (message: string, code: string | null = null, param: string | null = null) =>
  JSON.stringify({ error: { message, type: 'invalid_request_error', param, code } });

function fromStatus(
  status: number,
  bodyText = envelope('something'),
  extra: { callerKey?: boolean; retryAfterMs?: number } = {},
) {
  return errorFromResponse({
    status,
    bodyText,
    requestId: 'req_1',
    retryAfterMs: extra.retryAfterMs,
    secrets: [serverKey, ...(extra.callerKey ? [callerKey] : [])],
    ...(extra.callerKey === undefined ? {} : { callerKey: extra.callerKey }),
  });
}

describe('errorFromResponse', () => {
  it.each([
    [400, UpstreamRequestError],
    [404, UpstreamRequestError],
    [409, UpstreamRequestError],
    [413, UpstreamRequestError],
    [422, UpstreamRequestError],
    [408, UpstreamTimeoutError],
    [429, UpstreamRateLimitError],
    [500, UpstreamUnavailableError],
    [502, UpstreamUnavailableError],
    [503, UpstreamUnavailableError],
    [504, UpstreamUnavailableError],
    [599, UpstreamUnavailableError],
    [401, UpstreamConfigurationError],
    [403, UpstreamConfigurationError],
    [302, UpstreamBadResponseError],
    [418, UpstreamBadResponseError],
  ])('HTTP %i → %o', (status, type) => {
    const error = fromStatus(status);
    expect(error).toBeInstanceOf(type);
    expect(error).toMatchObject({ status, requestId: 'req_1' });
  });

  it('a 404 without an error envelope is a wrong base URL: ours', () => {
    expect(fromStatus(404, '<html>Not Found</html>')).toBeInstanceOf(UpstreamConfigurationError);
  });

  it('400 keeps the upstream message (scrubbed), its param and code; model_not_found names the model', () => {
    const error = fromStatus(
      400,
      envelope(`context too long, key ${serverKey}`, 'context_length_exceeded', 'max_tokens'),
    );
    expect(error).toMatchObject({ param: 'max_tokens', upstreamCode: 'context_length_exceeded' });
    expect(error.message).toContain('context too long');
    expect(error.message).not.toContain(serverKey.slice(0, 8));
    expect(fromStatus(404, envelope('no such model', 'model_not_found'))).toMatchObject({ param: 'model' });
  });

  it('keeps a code or param only when it is a short identifier holding no secret (both reach clients and spans)', () => {
    const bare = serverKey.slice(3);
    for (const hostile of [
      serverKey,
      bare,
      'sk-someone-elses-key-0123',
      'has spaces',
      'x'.repeat(65),
      'a\nb',
    ]) {
      const error = fromStatus(400, envelope('bad', hostile, hostile));
      expect(error).toMatchObject({ upstreamCode: undefined, param: undefined });
      expect(JSON.stringify(error)).not.toContain(bare);
    }
    expect(fromStatus(400, envelope('bad', 'invalid_value', 'logit_bias.50256'))).toMatchObject({
      upstreamCode: 'invalid_value',
      param: 'logit_bias.50256',
    });
  });

  it('401/403 with this service’s key: our misconfiguration, no upstream text kept', () => {
    const body = recorded('openai-error-401-invalid-api-key.json');
    for (const status of [401, 403]) {
      const error = fromStatus(status, body, { callerKey: false });
      expect(error).toBeInstanceOf(UpstreamConfigurationError);
      expect(error.message).not.toMatch(/Incorrect API key|sk-/);
    }
  });

  it('401/403 with the caller’s pass-through key: the caller’s to fix, told why, key scrubbed', () => {
    for (const status of [401, 403]) {
      const error = fromStatus(
        status,
        envelope(`Incorrect API key provided: ${callerKey.slice(0, 8)}****CALLER.`, 'invalid_api_key'),
        {
          callerKey: true,
        },
      );
      expect(error).toBeInstanceOf(UpstreamCallerKeyError);
      expect(error).toMatchObject({ status, upstreamCode: 'invalid_api_key' });
      expect(error.message).toContain('X-Upstream-Api-Key');
      expect(error.message).toContain('Incorrect API key provided');
      expect(error.message).not.toContain(callerKey.slice(0, 8));
      expect(error.message).not.toContain('****');
    }
  });

  it('429: retryAfter in whole seconds (at least 1), none for an exhausted quota', () => {
    expect(fromStatus(429, envelope('slow down'), { retryAfterMs: 1_200 })).toMatchObject({
      retryAfterSeconds: 2,
    });
    expect(fromStatus(429, envelope('slow down'), { retryAfterMs: 10 })).toMatchObject({
      retryAfterSeconds: 1,
    });
    expect(fromStatus(429, envelope('slow down'))).toMatchObject({ retryAfterSeconds: undefined });
    const quota = fromStatus(429, envelope('quota', 'insufficient_quota'), { retryAfterMs: 1_000 });
    expect(quota).toMatchObject({ retryAfterSeconds: undefined, upstreamCode: 'insufficient_quota' });
    expect(quota.message).toMatch(/quota/);
    expect(isRetryableRateLimit(envelope('quota', 'insufficient_quota'))).toBe(false);
    expect(isRetryableRateLimit(envelope('slow down', 'rate_limit_exceeded'))).toBe(true);
  });
});

describe('parseErrorEnvelope', () => {
  it.each([
    ['OpenAI', envelope('m', 'c', 'p'), { message: 'm', code: 'c', param: 'p' }],
    ['a bare string', '{"error":"m"}', { message: 'm', code: undefined, param: undefined }],
    ['flat', '{"message":"m","code":400}', { message: 'm', code: '400', param: undefined }],
    ['FastAPI', '{"detail":"m"}', { message: 'm', code: undefined, param: undefined }],
    [
      'type as code',
      '{"error":{"message":"m","type":"server_error"}}',
      { message: 'm', code: 'server_error', param: undefined },
    ],
  ])('%s', (_name, text, expected) => {
    expect(parseErrorEnvelope(text)).toEqual(expected);
  });

  it.each(['not json', 'null', '42', '{}', '{"error":{}}'])('nothing usable in %s', (text) => {
    expect(parseErrorEnvelope(text)).toBeUndefined();
  });
});
