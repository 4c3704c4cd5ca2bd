import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../src/completions/validation.js';
import { errorCodes, originalError, toClientError } from '../src/errors.js';
import { ClientRateLimitError } from '../src/limits/client-budget.js';
import { LimiterUnavailableError } from '../src/limits/index.js';
import { StorageError } from '../src/storage/index.js';
import {
  UpstreamAbortedError,
  UpstreamBadResponseError,
  UpstreamConfigurationError,
  UpstreamError,
  UpstreamRateLimitError,
  UpstreamRequestError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from '../src/upstream/errors.js';

/** Each typed failure → the GraphQL error a client sees: message, `extensions.code` and the rest. */

function mapped(error: unknown, path?: readonly (string | number)[]) {
  const result = toClientError(error, path);
  if (result === undefined) throw new Error('expected a client error, got undefined (masked)');
  return { message: result.message, extensions: result.extensions, path: result.path };
}

describe('toClientError', () => {
  it('InvalidRequestError: BAD_USER_INPUT naming the GraphQL argument and the wire parameter', () => {
    const error = new InvalidRequestError({ param: 'top_p', problem: 'must be between 0 and 1 (got 2).' });
    expect(mapped(error)).toEqual({
      message: 'input.topP must be between 0 and 1 (got 2).',
      extensions: { code: 'BAD_USER_INPUT', argument: 'input.topP', param: 'top_p' },
      path: undefined,
    });
  });

  it('ClientRateLimitError: RATE_LIMITED with retryAfter, the limit and its value', () => {
    const error = new ClientRateLimitError('tokens', 12, 500);
    expect(mapped(error)).toEqual({
      message: error.message,
      extensions: { code: 'RATE_LIMITED', retryAfter: 12, limit: 'tokens', limitValue: 500 },
      path: undefined,
    });
    expect(error.message).toMatch(/500 tokens per minute\. Retry in 12 s\./);
    expect(new ClientRateLimitError('requests', 1, 5).message).toMatch(/5 per minute\. Retry in 1 s\./);
  });

  it('LimiterUnavailableError: RATE_LIMITER_UNAVAILABLE, without the store’s address', () => {
    const error = new LimiterUnavailableError(
      'Rate limit store redis://10.0.0.5:6379 is unavailable: x',
      'ECONNREFUSED',
    );
    expect(mapped(error)).toEqual({
      message: 'Rate limits cannot be checked right now; no call was made.',
      extensions: { code: 'RATE_LIMITER_UNAVAILABLE' },
      path: undefined,
    });
  });

  it('StorageError: STORAGE_UNAVAILABLE, without the driver’s detail', () => {
    const error = new StorageError(
      'completions.get',
      'storage completions.get failed: password authentication failed for "app"',
    );
    expect(mapped(error)).toEqual({
      message: 'Stored completions cannot be read right now.',
      extensions: { code: 'STORAGE_UNAVAILABLE' },
      path: undefined,
    });
  });

  describe('UpstreamRequestError: BAD_USER_INPUT', () => {
    it('with the argument, the parameter, the upstream code and request id', () => {
      const error = new UpstreamRequestError('The model `x` does not exist', {
        status: 404,
        param: 'model',
        upstreamCode: 'model_not_found',
        requestId: 'req_1',
      });
      expect(mapped(error)).toEqual({
        message: 'The model `x` does not exist',
        extensions: {
          code: 'BAD_USER_INPUT',
          argument: 'input.model',
          param: 'model',
          upstreamCode: 'model_not_found',
          upstreamRequestId: 'req_1',
        },
        path: undefined,
      });
    });

    it('without a parameter: the whole input, and no empty keys', () => {
      expect(mapped(new UpstreamRequestError('Bad request')).extensions).toEqual({
        code: 'BAD_USER_INPUT',
        argument: 'input',
      });
    });
  });

  describe('UpstreamRateLimitError: UPSTREAM_RATE_LIMITED', () => {
    it('with retryAfter when the upstream said how long', () => {
      const error = new UpstreamRateLimitError('Rate limit reached', {
        retryAfterSeconds: 20,
        requestId: 'req_2',
      });
      expect(mapped(error)).toEqual({
        message: 'Rate limit reached',
        extensions: { code: 'UPSTREAM_RATE_LIMITED', retryAfter: 20, upstreamRequestId: 'req_2' },
        path: undefined,
      });
    });

    it('without retryAfter when it did not', () => {
      expect(mapped(new UpstreamRateLimitError('Rate limit reached')).extensions).toEqual({
        code: 'UPSTREAM_RATE_LIMITED',
      });
    });

    it('with the upstream’s own code: out of quota is not the same as too fast', () => {
      const error = new UpstreamRateLimitError('You exceeded your quota', {
        upstreamCode: 'insufficient_quota',
      });
      expect(mapped(error).extensions).toEqual({
        code: 'UPSTREAM_RATE_LIMITED',
        upstreamCode: 'insufficient_quota',
      });
    });
  });

  it.each([
    [UpstreamTimeoutError, 'UPSTREAM_TIMEOUT'],
    [UpstreamUnavailableError, 'UPSTREAM_UNAVAILABLE'],
    [UpstreamBadResponseError, 'UPSTREAM_BAD_RESPONSE'],
    [UpstreamAbortedError, 'CLIENT_CLOSED_REQUEST'],
  ] as const)('%o: %s with the message and, when known, the upstream request id', (ErrorClass, code) => {
    expect(mapped(new ErrorClass('The upstream did X.'))).toEqual({
      message: 'The upstream did X.',
      extensions: { code },
      path: undefined,
    });
    expect(mapped(new ErrorClass('The upstream did X.', { requestId: 'req_3' })).extensions).toEqual({
      code,
      upstreamRequestId: 'req_3',
    });
  });

  it('UpstreamConfigurationError: INTERNAL_SERVER_ERROR that says nothing of the upstream’s answer', () => {
    const error = new UpstreamConfigurationError('Incorrect API key provided: sk-abc***xyz', {
      status: 401,
      requestId: 'req_4',
    });
    const client = mapped(error);
    expect(client).toEqual({
      message: 'The completions upstream is misconfigured on this server.',
      extensions: { code: 'INTERNAL_SERVER_ERROR', upstreamRequestId: 'req_4' },
      path: undefined,
    });
    expect(JSON.stringify(client)).not.toContain('sk-abc');
  });

  it('sets the path when given one', () => {
    expect(mapped(new UpstreamTimeoutError('late'), ['createCompletion']).path).toEqual(['createCompletion']);
  });

  it.each([
    ['a plain Error', new Error('ECONNREFUSED 10.0.0.5:5432')],
    ['a TypeError', new TypeError('cannot read x of undefined')],
    ['a string', 'boom'],
    ['undefined', undefined],
    ['a GraphQLError', new GraphQLError('already a GraphQL error')],
  ])('leaves %s to be masked (undefined)', (_name, error) => {
    expect(toClientError(error)).toBeUndefined();
  });

  it('leaves an UpstreamError subclass it does not know to be masked', () => {
    class UpstreamSomethingNewError extends UpstreamError {}
    expect(toClientError(new UpstreamSomethingNewError('new'))).toBeUndefined();
  });

  it('uses only the codes listed in errorCodes', () => {
    const codes = new Set<unknown>(Object.values(errorCodes));
    const samples = [
      new InvalidRequestError({ param: 'n', problem: 'x' }),
      new ClientRateLimitError('requests', 1, 1),
      new LimiterUnavailableError('x'),
      new StorageError('completions.get', 'x'),
      new UpstreamRequestError('x'),
      new UpstreamRateLimitError('x'),
      new UpstreamTimeoutError('x'),
      new UpstreamUnavailableError('x'),
      new UpstreamBadResponseError('x'),
      new UpstreamAbortedError('x'),
      new UpstreamConfigurationError('x'),
    ];
    for (const sample of samples) expect(codes).toContain(mapped(sample).extensions.code);
  });
});

describe('originalError', () => {
  it('unwraps GraphQL errors down to what the resolver threw', () => {
    const cause = new UpstreamTimeoutError('late');
    const inner = new GraphQLError('inner', { originalError: cause });
    const outer = new GraphQLError('outer', { originalError: inner });
    expect(originalError(outer)).toBe(cause);
    expect(originalError(inner)).toBe(cause);
  });

  it('returns a GraphQL error without an original error, and anything else, as it is', () => {
    const bare = new GraphQLError('bare');
    expect(originalError(bare)).toBe(bare);
    const plain = new Error('plain');
    expect(originalError(plain)).toBe(plain);
    expect(originalError('text')).toBe('text');
  });
});

describe('the code catalogue', () => {
  it('is the only place a code is spelled: no `code: "LITERAL"` anywhere else in src', async () => {
    const { readdir, readFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const root = new URL('../src/', import.meta.url).pathname;
    const files = (await readdir(root, { recursive: true }))
      .filter((file) => file.endsWith('.ts') && !file.startsWith('playground') && file !== 'error-codes.ts')
      .map((file) => join(root, file));
    const spelled: string[] = [];
    for (const file of files) {
      const text = await readFile(file, 'utf8');
      // Node's and undici's own codes (ECONNRESET, UND_ERR_*) are theirs, not ours.
      for (const match of text.matchAll(/code(?:: | === )'(?!UND_ERR_)([A-Z][A-Z_]+)'/g))
        spelled.push(`${file}: ${match[1]}`);
    }
    expect(spelled).toEqual([]);
  });
});
