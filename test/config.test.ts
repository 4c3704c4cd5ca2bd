import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hashToken } from '../src/auth/client-keys.js';
import { ConfigError, configDefaults, loadConfig, resolveRateLimit } from '../src/config.js';
import { resolveUpstream } from '../src/routing/upstream-choice.js';

/**
 * `loadConfig` takes the environment as an argument (process.env by default), so every case here
 * passes its own object and the real environment is neither read nor changed.
 */

const load = (env: Record<string, string | undefined>) => loadConfig(env);
const failure = (env: Record<string, string | undefined>): ConfigError => {
  try {
    load(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
};

describe('defaults: an empty environment', () => {
  const config = load({});

  it('serves on 127.0.0.1:4000 in development, logging at info, with the local engine chosen automatically', () => {
    expect(config).toMatchObject({
      port: 4000,
      host: '127.0.0.1',
      nodeEnv: 'development',
      logLevel: 'info',
      upstream: 'auto',
      openaiBaseUrl: 'https://api.openai.com/v1',
      openaiApiKey: undefined,
    });
    expect(resolveUpstream(config)).toBe('local');
  });

  it('has the documented upstream and stream limits', () => {
    expect(config).toMatchObject({
      upstreamTimeoutMs: 25_000,
      upstreamMaxRetries: 2,
      upstreamMaxResponseBytes: 16_777_216,
      upstreamMaxConnections: 2048,
      streamTimeouts: { firstByteMs: 10_000, idleMs: 30_000, totalMs: 600_000 },
    });
  });

  it('has the documented operation limits', () => {
    expect(config.limits).toMatchObject({
      maxRequestBytes: 1_048_576,
      maxCompletionsPerOperation: 1,
      maxEstimatedTokensPerOperation: 16_384,
      maxDepth: 12,
      maxAliases: 10,
      maxTokens: 2000,
      maxDirectives: 20,
    });
  });

  it('runs open, in memory, on SQLite under the project, with no budgets of its own', () => {
    expect(config).toMatchObject({
      clientKeys: [],
      upstreamKeyPassthrough: false,
      redisUrl: undefined,
      databaseUrl: undefined,
      rateLimit: { requestsPerMinute: undefined, tokensPerMinute: undefined },
      localModelCacheDir: configDefaults.localModelCacheDir,
      sqlitePath: configDefaults.sqlitePath,
    });
    expect(config.localModelCacheDir).toMatch(/\.cache\/local-model$/);
    expect(config.sqlitePath).toMatch(/\.data\/completions\.sqlite$/);
  });

  it('is frozen', () => {
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads an empty or blank value as unset', () => {
    const blank = load({
      PORT: '',
      HOST: '  ',
      UPSTREAM: '',
      OPENAI_API_KEY: ' ',
      REDIS_URL: ' ',
      LOG_LEVEL: '',
    });
    expect(blank).toMatchObject({
      port: 4000,
      host: '127.0.0.1',
      upstream: 'auto',
      openaiApiKey: undefined,
      redisUrl: undefined,
      logLevel: 'info',
    });
  });
});

describe('strings', () => {
  it('takes HOST, NODE_ENV, LOG_LEVEL and the paths as given, trimmed', () => {
    expect(
      load({
        HOST: ' 0.0.0.0 ',
        NODE_ENV: 'production',
        LOG_LEVEL: 'debug',
        LOCAL_MODEL_CACHE_DIR: '/var/cache/model',
        SQLITE_PATH: '/var/lib/c.sqlite',
        REDIS_URL: ' redis://r:6379 ',
        DATABASE_URL: 'postgres://db/c',
      }),
    ).toMatchObject({
      host: '0.0.0.0',
      nodeEnv: 'production',
      logLevel: 'debug',
      localModelCacheDir: '/var/cache/model',
      sqlitePath: '/var/lib/c.sqlite',
      redisUrl: 'redis://r:6379',
      databaseUrl: 'postgres://db/c',
    });
  });
});

type IntCase = [
  variable: string,
  read: (config: ReturnType<typeof loadConfig>) => number,
  min: number,
  max: number,
];

const ints: IntCase[] = [
  ['PORT', (c) => c.port, 0, 65_535],
  ['UPSTREAM_TIMEOUT_MS', (c) => c.upstreamTimeoutMs, 1, 600_000],
  ['UPSTREAM_MAX_RETRIES', (c) => c.upstreamMaxRetries, 0, 10],
  ['UPSTREAM_MAX_RESPONSE_BYTES', (c) => c.upstreamMaxResponseBytes, 1024, 1024 * 1024 * 1024],
  ['UPSTREAM_MAX_CONNECTIONS', (c) => c.upstreamMaxConnections, 1, 100_000],
  ['STREAM_FIRST_BYTE_TIMEOUT_MS', (c) => c.streamTimeouts.firstByteMs, 1, 600_000],
  ['STREAM_IDLE_TIMEOUT_MS', (c) => c.streamTimeouts.idleMs, 1, 3_600_000],
  ['STREAM_TOTAL_TIMEOUT_MS', (c) => c.streamTimeouts.totalMs, 1, 86_400_000],
  ['MAX_REQUEST_BYTES', (c) => c.limits.maxRequestBytes, 1024, 64 * 1024 * 1024],
  ['MAX_COMPLETIONS_PER_OPERATION', (c) => c.limits.maxCompletionsPerOperation, 1, 100],
  ['MAX_ESTIMATED_TOKENS_PER_OPERATION', (c) => c.limits.maxEstimatedTokensPerOperation, 1, 100_000_000],
  ['MAX_QUERY_DEPTH', (c) => c.limits.maxDepth, 2, 100],
  ['MAX_ALIASES', (c) => c.limits.maxAliases, 0, 1000],
  ['MAX_QUERY_TOKENS', (c) => c.limits.maxTokens, 50, 100_000],
  ['MAX_DIRECTIVES', (c) => c.limits.maxDirectives, 0, 1000],
];

describe.each(ints)('%s', (variable, read, min, max) => {
  it(`accepts ${min} and ${max}, trimmed`, () => {
    expect(read(load({ [variable]: String(min) }))).toBe(min);
    expect(read(load({ [variable]: ` ${max} ` }))).toBe(max);
  });

  it.each([String(min - 1), String(max + 1), '1.5', 'ten', '1e3x', '-'])(
    'refuses %j with the range',
    (raw) => {
      expect(failure({ [variable]: raw }).message).toBe(
        `${variable} must be a whole number from ${min} to ${max}, got "${raw}"`,
      );
    },
  );
});

describe('UPSTREAM', () => {
  it.each(['auto', 'openai', 'local', ' LOCAL ', 'OpenAI'])('accepts %j, case-insensitively', (raw) => {
    expect(load({ UPSTREAM: raw, OPENAI_API_KEY: 'sk-x' }).upstream).toBe(raw.trim().toLowerCase());
  });

  it('refuses anything else, naming the choices', () => {
    expect(failure({ UPSTREAM: 'Azure' }).message).toBe(
      'UPSTREAM must be one of auto, openai, local; got "azure"',
    );
  });

  it('openai with the OpenAI base URL and no key cannot start', () => {
    expect(failure({ UPSTREAM: 'openai' }).message).toBe(
      'UPSTREAM=openai with the OpenAI base URL needs OPENAI_API_KEY',
    );
    expect(failure({ UPSTREAM: 'openai', OPENAI_API_KEY: '  ' }).message).toMatch(/needs OPENAI_API_KEY/);
  });

  it('openai without a key is fine for another server (vLLM, llama.cpp, Ollama need none)', () => {
    expect(load({ UPSTREAM: 'openai', OPENAI_BASE_URL: 'http://127.0.0.1:8000/v1' })).toMatchObject({
      upstream: 'openai',
      openaiApiKey: undefined,
    });
  });
});

describe('resolveUpstream', () => {
  it('auto follows the presence of a key; an explicit choice wins', () => {
    expect(resolveUpstream(load({ OPENAI_API_KEY: 'sk-x' }))).toBe('openai');
    expect(resolveUpstream(load({}))).toBe('local');
    expect(resolveUpstream(load({ UPSTREAM: 'local', OPENAI_API_KEY: 'sk-x' }))).toBe('local');
    expect(resolveUpstream(load({ UPSTREAM: 'openai', OPENAI_BASE_URL: 'http://h/v1' }))).toBe('openai');
  });
});

describe('OPENAI_BASE_URL and OPENAI_API_KEY', () => {
  it('drops trailing slashes from the base URL', () => {
    expect(load({ OPENAI_BASE_URL: 'http://127.0.0.1:8000/v1//' }).openaiBaseUrl).toBe(
      'http://127.0.0.1:8000/v1',
    );
  });

  it('refuses a relative URL and a non-http scheme', () => {
    expect(failure({ OPENAI_BASE_URL: 'api.openai.com/v1' }).message).toBe(
      'OPENAI_BASE_URL must be an absolute http(s) URL, got "api.openai.com/v1"',
    );
    expect(failure({ OPENAI_BASE_URL: 'ftp://host/v1' }).message).toBe(
      'OPENAI_BASE_URL must use http or https, got "ftp:"',
    );
  });

  it('trims the key and never puts it in an error message', () => {
    expect(load({ OPENAI_API_KEY: ' sk-secret-123 ' }).openaiApiKey).toBe('sk-secret-123');
    expect(failure({ OPENAI_API_KEY: 'sk-secret-123', PORT: 'x' }).message).not.toContain('sk-secret');
  });
});

describe('UPSTREAM_KEY_PASSTHROUGH', () => {
  it.each(['1', 'true', 'YES', ' on '])('%j is true', (raw) => {
    expect(load({ UPSTREAM_KEY_PASSTHROUGH: raw }).upstreamKeyPassthrough).toBe(true);
  });

  it.each(['0', 'false', 'No', 'off', ''])('%j is false', (raw) => {
    expect(load({ UPSTREAM_KEY_PASSTHROUGH: raw }).upstreamKeyPassthrough).toBe(false);
  });

  it('refuses anything else', () => {
    expect(failure({ UPSTREAM_KEY_PASSTHROUGH: 'maybe' }).message).toBe(
      'UPSTREAM_KEY_PASSTHROUGH must be true or false, got "maybe"',
    );
  });
});

describe('rate limits', () => {
  it('leave unset variables undefined, for resolveRateLimit to default by provider', () => {
    expect(load({}).rateLimit).toEqual({ requestsPerMinute: undefined, tokensPerMinute: undefined });
  });

  it('accept 0 (unlimited) up to their maxima', () => {
    expect(
      load({ RATE_LIMIT_REQUESTS_PER_MINUTE: '0', RATE_LIMIT_TOKENS_PER_MINUTE: '1000000000000' }).rateLimit,
    ).toEqual({ requestsPerMinute: 0, tokensPerMinute: 1e12 });
    expect(load({ RATE_LIMIT_REQUESTS_PER_MINUTE: '1000000000' }).rateLimit.requestsPerMinute).toBe(1e9);
  });

  it('refuse a negative, a fraction and a value past the maximum', () => {
    expect(failure({ RATE_LIMIT_REQUESTS_PER_MINUTE: '-1' }).message).toBe(
      'RATE_LIMIT_REQUESTS_PER_MINUTE must be a whole number from 0 to 1000000000, got "-1"',
    );
    expect(failure({ RATE_LIMIT_REQUESTS_PER_MINUTE: '1000000001' }).message).toMatch(/from 0 to 1000000000/);
    expect(failure({ RATE_LIMIT_TOKENS_PER_MINUTE: '2.5' }).message).toBe(
      'RATE_LIMIT_TOKENS_PER_MINUTE must be a whole number from 0 to 1000000000000, got "2.5"',
    );
  });

  it('resolveRateLimit: the paid upstream gets 120 requests and 200,000 tokens a minute, the local engine none', () => {
    expect(resolveRateLimit(load({ OPENAI_API_KEY: 'sk-x' }))).toEqual({
      requestsPerMinute: 120,
      tokensPerMinute: 200_000,
    });
    expect(resolveRateLimit(load({}))).toEqual({ requestsPerMinute: 0, tokensPerMinute: 0 });
  });

  it('resolveRateLimit: what is configured wins, 0 included', () => {
    expect(resolveRateLimit(load({ OPENAI_API_KEY: 'sk-x', RATE_LIMIT_REQUESTS_PER_MINUTE: '0' }))).toEqual({
      requestsPerMinute: 0,
      tokensPerMinute: 200_000,
    });
    expect(resolveRateLimit(load({ RATE_LIMIT_TOKENS_PER_MINUTE: '500' }))).toEqual({
      requestsPerMinute: 0,
      tokensPerMinute: 500,
    });
  });
});

describe('client keys', () => {
  const dir = mkdtempSync(join(tmpdir(), 'config-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const alice = hashToken('ck-alice');
  const bob = hashToken('ck-bob');

  it('reads CLIENT_KEYS, comma or newline separated, hex lower-cased', () => {
    expect(load({ CLIENT_KEYS: `alice:${alice.toUpperCase()},\nbob:${bob}` }).clientKeys).toEqual([
      { name: 'alice', sha256: alice },
      { name: 'bob', sha256: bob },
    ]);
  });

  it('adds the entries of CLIENT_KEYS_FILE, comments and blank lines allowed', () => {
    const file = join(dir, 'keys');
    writeFileSync(file, `# the team\n\nbob:${bob} # since May\n`);
    expect(load({ CLIENT_KEYS: `alice:${alice}`, CLIENT_KEYS_FILE: file }).clientKeys).toEqual([
      { name: 'alice', sha256: alice },
      { name: 'bob', sha256: bob },
    ]);
  });

  it('refuses an unreadable file, naming it', () => {
    const missing = join(dir, 'missing');
    expect(failure({ CLIENT_KEYS_FILE: missing }).message).toBe(
      `CLIENT_KEYS_FILE cannot be read: ${missing}`,
    );
  });

  it('refuses a malformed entry without echoing it (it may be a raw token)', () => {
    const message = failure({ CLIENT_KEYS: 'alice:ck-raw-token-not-a-hash' }).message;
    expect(message).toMatch(/^CLIENT_KEYS \/ CLIENT_KEYS_FILE: client keys must be "name:sha256hex" entries/);
    expect(message).not.toContain('ck-raw-token');
  });
});
