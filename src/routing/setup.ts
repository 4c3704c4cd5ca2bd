import type { Logger } from 'pino';
import { createHttpProvider, type HttpProvider } from '../upstream/http.js';
import type { CompletionsProvider } from '../upstream/provider.js';
import type { DeploymentSpec, UpstreamsSpec } from './config-file.js';
import { createRouter, type Router, type RouterOptions } from './router.js';

/**
 * The router built from UPSTREAMS_FILE: an HTTP provider (with its own keep-alive pool) per
 * `openai` deployment, one local engine shared by the `local` ones, the global UPSTREAM_* and
 * STREAM_* values as each deployment's defaults.
 */

/**
 * A 429 asking for a longer wait than this is not waited out on the same deployment: the HTTP
 * provider gives up at once and the router falls back to the next one.
 */
const maxRetryAfterWaitMs = 2_000;

/** The configuration's upstream defaults (UPSTREAM_*, STREAM_*, LOCAL_*): each deployment's own unless it says. */
export interface UpstreamDefaults {
  upstreamTimeoutMs: number;
  upstreamMaxRetries: number;
  upstreamMaxResponseBytes: number;
  upstreamMaxConnections: number;
  /** Streamed completions: until the first byte, the longest silence, the whole stream. */
  streamTimeouts: { firstByteMs: number; idleMs: number; totalMs: number };
  localModelCacheDir: string;
  /** Local engine: prompts × max(n, best_of) one request may ask for, checked before any work. */
  localMaxChoices: number;
}

export async function createRoutedProvider(
  config: UpstreamDefaults,
  upstreams: UpstreamsSpec,
  logger: Logger,
  /** Tests inject time, chance and a quicker breaker. */
  inject: Pick<RouterOptions, 'clock' | 'random' | 'breaker'> = {},
): Promise<{ router: Router; description: string; exampleModel: string }> {
  const pools: HttpProvider[] = [];
  let local: Promise<CompletionsProvider> | undefined;
  const providerFor = (spec: DeploymentSpec): Promise<CompletionsProvider> => {
    if (spec.kind === 'local') {
      local ??= import('../local/provider.js').then(({ createLocalProvider }) =>
        createLocalProvider({
          cacheDir: config.localModelCacheDir,
          maxChoices: config.localMaxChoices,
          log: (message: string) => logger.info(message),
        }),
      );
      return local;
    }
    const provider = createHttpProvider({
      baseUrl: spec.baseUrl as string,
      apiKey: spec.apiKey,
      // Never past the operation's deadline, which a first attempt relies on (OperationDeadline).
      timeoutMs: Math.min(spec.timeoutMs ?? config.upstreamTimeoutMs, config.upstreamTimeoutMs),
      maxRetries: spec.maxRetries ?? config.upstreamMaxRetries,
      maxResponseBytes: config.upstreamMaxResponseBytes,
      maxConnections: spec.maxConnections ?? config.upstreamMaxConnections,
      stream: config.streamTimeouts,
      backoff: { maxRetryAfterMs: maxRetryAfterWaitMs },
      retryRateLimitWithoutRetryAfter: false,
    });
    pools.push(provider);
    return Promise.resolve(provider);
  };
  const deployments = await Promise.all(
    upstreams.deployments.map(async (spec) => ({ spec, provider: await providerFor(spec) })),
  );
  // The injected clock, chance and breaker are keys of their own: none of the ones above.
  const router = createRouter({
    deployments,
    routes: upstreams.routes,
    completeDeadlineMs: config.upstreamTimeoutMs,
    streamDeadlineMs: config.streamTimeouts.totalMs,
    onFallback: ({ model, deployment, error }) =>
      logger.warn(
        { model, deployment, error: error instanceof Error ? error.name : 'unknown' },
        'deployment failed; the call goes to the next one its route has, if any',
      ),
    close: async () => {
      await Promise.all(pools.map((pool) => pool.close()));
    },
    ...inject,
  });
  const names = upstreams.deployments.map((d) => (d.kind === 'local' ? d.name : `${d.name} (${d.baseUrl})`));
  return {
    router,
    description: `${names.length} deployment${names.length === 1 ? '' : 's'} from UPSTREAMS_FILE: ${names.join(', ')}; models ${upstreams.routes.map((r) => r.model).join(', ')}`,
    exampleModel: upstreams.routes[0]?.model ?? 'gpt-3.5-turbo-instruct',
  };
}
