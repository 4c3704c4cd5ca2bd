import { fileURLToPath } from 'node:url';
import {
  ConfigError,
  type Env,
  optional,
  readBoolean,
  readFileVariable,
  readInt,
  readString,
} from './config-values.js';

export { ConfigError };

import { type ClientKeyEntry, ClientKeyError, parseClientKeys } from './auth/client-keys.js';
import { type PriceTable, PriceTableError, parsePriceTable } from './completions/prices.js';
import { CorsOriginError, normaliseOrigin } from './http/cors.js';
import { ManifestError, parseManifest } from './plugins/persisted-manifest.js';
import { readUpstreamsFile } from './routing/config-file.js';
import type { ProviderConfig } from './routing/provider-factory.js';
import { resolveUpstream, type UpstreamChoice } from './routing/upstream-choice.js';
import { readTelemetryConfig, type TelemetryConfig } from './telemetry/config.js';
import { assertTemplatesFit, assertTemplatesRouted, readPromptsConfig } from './templates/config-file.js';
import type { PromptsConfig } from './templates/template.js';

/**
 * The only reader of `process.env`. Everything is parsed and checked once at start, so a typo in a
 * variable stops the process with a clear message instead of surfacing as a strange request error.
 */

/**
 * The upstream part (`ProviderConfig`: UPSTREAM, OPENAI_*, UPSTREAM_*, STREAM_*, LOCAL_*,
 * UPSTREAMS_FILE) is declared where the provider is chosen; the rest here.
 */
export interface Config extends ProviderConfig {
  port: number;
  host: string;
  nodeEnv: string;
  logLevel: string;
  limits: OperationLimits;
  /** Hashed client keys; empty means the service runs open. */
  clientKeys: ClientKeyEntry[];
  /** Forward the client's own upstream key (X-Upstream-Api-Key) instead of the server's. */
  upstreamKeyPassthrough: boolean;
  /** Shared limits across instances when set; in memory otherwise. */
  redisUrl: string | undefined;
  /**
   * Per-client budgets. Unset variables default by provider: the paid HTTP upstream gets
   * `configDefaults.rateLimit`, the free local engine none (see `resolveRateLimit`).
   */
  rateLimit: { requestsPerMinute: number | undefined; tokensPerMinute: number | undefined };
  /** PostgreSQL when set; the embedded SQLite file otherwise. */
  databaseUrl: string | undefined;
  sqlitePath: string;
  /** Browser origins besides the server's own (`*`: any, without credentials); none by default. */
  corsOrigins: string[];
  /** A WebSocket that sends no connection_init within this is closed. */
  wsInitTimeoutMs: number;
  /** SIGTERM: not ready at once, new connections still taken for `delayMs`, then `graceMs` for what runs. */
  shutdown: { delayMs: number; graceMs: number };
  /** USD per million tokens by model (PRICES_FILE), replacing the built-in table when set. */
  prices: PriceTable | undefined;
  /** Known documents (TRUSTED_DOCUMENTS_FILE) and whether only they may run. */
  trustedDocuments: { manifest: Map<string, string>; only: boolean };
  /** METRICS_TOKEN, METRICS_PORT, LOG_PRETTY and the OTEL_* trace variables. */
  telemetry: TelemetryConfig;
  /** Prompt templates (PROMPTS_FILE) and whether raw prompts may run (ALLOW_RAW_PROMPTS). */
  prompts: PromptsConfig;
}

/** What one request may ask for; all enforced before anything executes. */
export interface OperationLimits {
  maxRequestBytes: number;
  maxCompletionsPerOperation: number;
  maxEstimatedTokensPerOperation: number;
  /** Sent as `max_tokens` when a request sets none, so that the price and the call agree. */
  defaultMaxTokens: number;
  maxDepth: number;
  maxAliases: number;
  maxTokens: number;
  maxDirectives: number;
  /** Representations one operation may pass to `_entities` (all its `_entities` fields together). */
  maxEntityRepresentations: number;
}

const projectRoot = fileURLToPath(new URL('..', import.meta.url));

export const configDefaults = {
  port: 4000,
  host: '127.0.0.1',
  logLevel: 'info',
  upstream: 'auto',
  openaiBaseUrl: 'https://api.openai.com/v1',
  upstreamTimeoutMs: 25_000,
  upstreamMaxRetries: 2,
  upstreamMaxResponseBytes: 16 * 1024 * 1024,
  upstreamMaxConnections: 2048,
  streamTimeouts: { firstByteMs: 10_000, idleMs: 30_000, totalMs: 600_000 },
  localModelCacheDir: `${projectRoot}.cache/local-model`,
  localMaxChoices: 128,
  sqlitePath: `${projectRoot}.data/completions.sqlite`,
  wsInitTimeoutMs: 3_000,
  shutdown: { delayMs: 5_000, graceMs: 10_000 },
  rateLimit: { requestsPerMinute: 120, tokensPerMinute: 200_000 },
  limits: {
    maxRequestBytes: 1024 * 1024,
    maxCompletionsPerOperation: 1,
    maxEstimatedTokensPerOperation: 16_384,
    defaultMaxTokens: 16,
    maxDepth: 12,
    maxAliases: 10,
    maxTokens: 2_000,
    maxDirectives: 20,
    maxEntityRepresentations: 1_000,
  },
} as const;

function readUpstream(env: Env): UpstreamChoice {
  const raw = readString(env, 'UPSTREAM', configDefaults.upstream).toLowerCase();
  if (raw === 'auto' || raw === 'openai' || raw === 'local') return raw;
  throw new ConfigError(`UPSTREAM must be one of auto, openai, local; got "${raw}"`);
}

function readBaseUrl(env: Env): string {
  const raw = readString(env, 'OPENAI_BASE_URL', configDefaults.openaiBaseUrl);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`OPENAI_BASE_URL must be an absolute http(s) URL, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`OPENAI_BASE_URL must use http or https, got "${url.protocol}"`);
  }
  return raw.replace(/\/+$/, '');
}

export function loadConfig(env: Env = process.env): Readonly<Config> {
  const apiKey = env.OPENAI_API_KEY?.trim();
  const config: Config = {
    port: readInt(env, 'PORT', configDefaults.port, 0, 65_535),
    host: readString(env, 'HOST', configDefaults.host),
    nodeEnv: readString(env, 'NODE_ENV', 'development'),
    logLevel: readString(env, 'LOG_LEVEL', configDefaults.logLevel),
    upstream: readUpstream(env),
    openaiBaseUrl: readBaseUrl(env),
    openaiApiKey: apiKey === '' ? undefined : apiKey,
    upstreamTimeoutMs: readInt(env, 'UPSTREAM_TIMEOUT_MS', configDefaults.upstreamTimeoutMs, 1, 600_000),
    upstreamMaxRetries: readInt(env, 'UPSTREAM_MAX_RETRIES', configDefaults.upstreamMaxRetries, 0, 10),
    upstreamMaxResponseBytes: readInt(
      env,
      'UPSTREAM_MAX_RESPONSE_BYTES',
      configDefaults.upstreamMaxResponseBytes,
      1024,
      1024 * 1024 * 1024,
    ),
    upstreamMaxConnections: readInt(
      env,
      'UPSTREAM_MAX_CONNECTIONS',
      configDefaults.upstreamMaxConnections,
      1,
      100_000,
    ),
    streamTimeouts: {
      firstByteMs: readInt(
        env,
        'STREAM_FIRST_BYTE_TIMEOUT_MS',
        configDefaults.streamTimeouts.firstByteMs,
        1,
        600_000,
      ),
      idleMs: readInt(env, 'STREAM_IDLE_TIMEOUT_MS', configDefaults.streamTimeouts.idleMs, 1, 3_600_000),
      totalMs: readInt(env, 'STREAM_TOTAL_TIMEOUT_MS', configDefaults.streamTimeouts.totalMs, 1, 86_400_000),
    },
    localModelCacheDir: readString(env, 'LOCAL_MODEL_CACHE_DIR', configDefaults.localModelCacheDir),
    localMaxChoices: readInt(env, 'LOCAL_MAX_CHOICES', configDefaults.localMaxChoices, 1, 65_536),
    limits: readLimits(env),
    clientKeys: readClientKeys(env),
    upstreamKeyPassthrough: readBoolean(env, 'UPSTREAM_KEY_PASSTHROUGH', false),
    redisUrl: optional(env.REDIS_URL),
    rateLimit: readRateLimit(env),
    databaseUrl: optional(env.DATABASE_URL),
    sqlitePath: readString(env, 'SQLITE_PATH', configDefaults.sqlitePath),
    corsOrigins: readCorsOrigins(env),
    wsInitTimeoutMs: readInt(env, 'WS_INIT_TIMEOUT_MS', configDefaults.wsInitTimeoutMs, 1, 600_000),
    trustedDocuments: readTrustedDocuments(env),
    prices: readFileVariable(env, 'PRICES_FILE', parsePriceTable, PriceTableError),
    upstreams: readUpstreamsFile(env),
    prompts: readPromptsConfig(env),
    telemetry: readTelemetryConfig(env, process.stdout.isTTY === true),
    shutdown: {
      delayMs: readInt(env, 'SHUTDOWN_DELAY_MS', configDefaults.shutdown.delayMs, 0, 600_000),
      graceMs: readInt(env, 'SHUTDOWN_GRACE_MS', configDefaults.shutdown.graceMs, 0, 3_600_000),
    },
  };
  if (config.upstreams !== undefined)
    assertTemplatesRouted(config.prompts.templates, config.upstreams.routes);
  assertTemplatesFit(config.prompts.templates, config.limits.maxEstimatedTokensPerOperation);
  if (config.prompts.cacheStore === 'redis' && config.redisUrl === undefined) {
    throw new ConfigError('PROMPT_CACHE_STORE=redis needs REDIS_URL');
  }
  if (
    config.upstream === 'openai' &&
    config.openaiApiKey === undefined &&
    isOpenAiHost(config.openaiBaseUrl)
  ) {
    throw new ConfigError('UPSTREAM=openai with the OpenAI base URL needs OPENAI_API_KEY');
  }
  return Object.freeze(config);
}

/** CORS_ORIGINS: exact origins, comma separated; `*` only when written. */
function readCorsOrigins(env: Env): string[] {
  const entries = (env.CORS_ORIGINS ?? '').split(',').map((entry) => entry.trim());
  try {
    return entries
      .filter((entry) => entry !== '')
      .map((entry) => (entry === '*' ? entry : normaliseOrigin(entry)));
  } catch (error) {
    throw new ConfigError(`CORS_ORIGINS: ${error instanceof CorsOriginError ? error.message : 'unreadable'}`);
  }
}

function readTrustedDocuments(env: Env): Config['trustedDocuments'] {
  const only = readBoolean(env, 'TRUSTED_DOCUMENTS_ONLY', false);
  const manifest = readFileVariable(env, 'TRUSTED_DOCUMENTS_FILE', parseManifest, ManifestError);
  if (manifest === undefined && only) {
    throw new ConfigError('TRUSTED_DOCUMENTS_ONLY=true needs TRUSTED_DOCUMENTS_FILE');
  }
  return { manifest: manifest ?? new Map(), only };
}

/** CLIENT_KEYS inline and CLIENT_KEYS_FILE together; both hold `name:sha256hex` entries. */
function readClientKeys(env: Env): ClientKeyEntry[] {
  const fromFile = readFileVariable(env, 'CLIENT_KEYS_FILE', (text) => text, Error);
  const text = `${env.CLIENT_KEYS ?? ''}\n${fromFile ?? ''}`;
  try {
    return parseClientKeys(text);
  } catch (error) {
    throw new ConfigError(
      `CLIENT_KEYS / CLIENT_KEYS_FILE: ${error instanceof ClientKeyError ? error.message : 'unreadable'}`,
    );
  }
}

function readRateLimit(env: Env): Config['rateLimit'] {
  const read = (name: string, max: number) =>
    optional(env[name]) === undefined ? undefined : readInt(env, name, 0, 0, max);
  return {
    requestsPerMinute: read('RATE_LIMIT_REQUESTS_PER_MINUTE', 1e9),
    tokensPerMinute: read('RATE_LIMIT_TOKENS_PER_MINUTE', 1e12),
  };
}

/** The budgets in force: what was configured, else the paid upstream's defaults, else none (local). */
export function resolveRateLimit(
  config: Pick<Config, 'rateLimit' | 'upstream' | 'openaiApiKey'> & Partial<Pick<Config, 'upstreams'>>,
): { requestsPerMinute: number; tokensPerMinute: number } {
  const paid = config.upstreams
    ? config.upstreams.deployments.some((deployment) => deployment.kind === 'openai')
    : resolveUpstream(config) === 'openai';
  return {
    requestsPerMinute:
      config.rateLimit.requestsPerMinute ?? (paid ? configDefaults.rateLimit.requestsPerMinute : 0),
    tokensPerMinute:
      config.rateLimit.tokensPerMinute ?? (paid ? configDefaults.rateLimit.tokensPerMinute : 0),
  };
}

function readLimits(env: Env): OperationLimits {
  const d = configDefaults.limits;
  return {
    maxRequestBytes: readInt(env, 'MAX_REQUEST_BYTES', d.maxRequestBytes, 1024, 64 * 1024 * 1024),
    maxCompletionsPerOperation: readInt(
      env,
      'MAX_COMPLETIONS_PER_OPERATION',
      d.maxCompletionsPerOperation,
      1,
      100,
    ),
    maxEstimatedTokensPerOperation: readInt(
      env,
      'MAX_ESTIMATED_TOKENS_PER_OPERATION',
      d.maxEstimatedTokensPerOperation,
      1,
      100_000_000,
    ),
    defaultMaxTokens: readInt(env, 'DEFAULT_MAX_TOKENS', d.defaultMaxTokens, 1, 10_000_000),
    maxDepth: readInt(env, 'MAX_QUERY_DEPTH', d.maxDepth, 2, 100),
    maxAliases: readInt(env, 'MAX_ALIASES', d.maxAliases, 0, 1000),
    maxTokens: readInt(env, 'MAX_QUERY_TOKENS', d.maxTokens, 50, 100_000),
    maxDirectives: readInt(env, 'MAX_DIRECTIVES', d.maxDirectives, 0, 1000),
    maxEntityRepresentations: readInt(
      env,
      'MAX_ENTITY_REPRESENTATIONS',
      d.maxEntityRepresentations,
      1,
      100_000,
    ),
  };
}

function isOpenAiHost(baseUrl: string): boolean {
  return new URL(baseUrl).hostname === 'api.openai.com';
}
