import type { Logger } from 'pino';
import { createHttpProvider } from '../upstream/http.js';
import type { CompletionsProvider } from '../upstream/provider.js';
import type { UpstreamsSpec } from './config-file.js';
import { createRoutedProvider, type UpstreamDefaults } from './setup.js';
import { resolveUpstream, type UpstreamChoice } from './upstream-choice.js';

/** What choosing and building the provider reads of the configuration (src/config.ts's `Config`). */
export interface ProviderConfig extends UpstreamDefaults {
  /** `auto`: the HTTP upstream when an API key is set, else the embedded local engine. */
  upstream: UpstreamChoice;
  openaiBaseUrl: string;
  openaiApiKey: string | undefined;
  /** Deployments and routes (UPSTREAMS_FILE); without it the variables above describe one upstream. */
  upstreams: UpstreamsSpec | undefined;
}

export interface ProviderSetup {
  provider: CompletionsProvider;
  /** One line for the start-up log: which backend serves, and where. */
  description: string;
  exampleModel: string;
  close(): Promise<void>;
}

/**
 * Chooses the provider from configuration: the router over UPSTREAMS_FILE's deployments, else the
 * one HTTP upstream or the embedded local engine, as before the file existed.
 */
export async function createProvider(config: ProviderConfig, logger: Logger): Promise<ProviderSetup> {
  if (config.upstreams !== undefined) {
    const { router, description, exampleModel } = await createRoutedProvider(
      config,
      config.upstreams,
      logger,
    );
    return { provider: router, description, exampleModel, close: () => router.close() };
  }
  if (resolveUpstream(config) === 'openai') {
    const provider = createHttpProvider({
      baseUrl: config.openaiBaseUrl,
      apiKey: config.openaiApiKey,
      timeoutMs: config.upstreamTimeoutMs,
      maxRetries: config.upstreamMaxRetries,
      maxResponseBytes: config.upstreamMaxResponseBytes,
      maxConnections: config.upstreamMaxConnections,
      stream: config.streamTimeouts,
    });
    return {
      provider,
      description: `the OpenAI-compatible API at ${shownUrl(config.openaiBaseUrl)}`,
      exampleModel: 'gpt-3.5-turbo-instruct',
      close: () => provider.close(),
    };
  }
  const { createLocalProvider } = await import('../local/provider.js');
  const provider = await createLocalProvider({
    cacheDir: config.localModelCacheDir,
    maxChoices: config.localMaxChoices,
    log: (message: string) => logger.info(message),
  });
  return {
    provider,
    description: `the embedded local engine (model ${provider.modelId}, no network, no key)`,
    exampleModel: provider.modelId,
    close: async () => {},
  };
}

/** A URL as a start line may show it: no user, password or query (some gateways take keys there). */
export function shownUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return '(an unreadable URL)';
  }
}
