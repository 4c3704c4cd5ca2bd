import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';
import { ClientAuthenticator } from './auth/client-keys.js';
import { ConfigError, loadConfig, resolveRateLimit } from './config.js';
import { isLoopback, loopbackHosts } from './http/cors.js';
import { createMetricsServer } from './http/metrics-route.js';
import { createRateLimiter } from './limits/index.js';
import { createProvider } from './routing/provider-factory.js';
import { tuneGarbageCollection } from './runtime/gc.js';
import { createStorage, openPromptCache } from './storage/index.js';
import { operationNamesOf } from './telemetry/bounded-label.js';
import { createLogger } from './telemetry/logger.js';
import { createMetrics } from './telemetry/metrics.js';
import { createTracing } from './telemetry/tracing.js';
import { assertTemplatesServed } from './templates/config-file.js';

/** Process entry only: configuration, dependencies, app, listen, drain on SIGTERM. */

/** A signal before the service listens: nothing runs yet, so it stops at once (the model cache is written atomically). */
const stopWhileStarting = (signal: string) => {
  console.error(`${signal} while starting: stopped.`);
  process.exit(0);
};

async function main(): Promise<void> {
  tuneGarbageCollection();
  process.once('SIGTERM', stopWhileStarting);
  process.once('SIGINT', stopWhileStarting);
  const config = loadConfig();
  const { telemetry } = config;
  const logger = createLogger({
    level: config.logLevel,
    pretty: telemetry.prettyLogs,
    secrets: [
      config.openaiApiKey,
      config.databaseUrl,
      config.redisUrl,
      telemetry.metricsToken,
      ...Object.values(telemetry.tracing?.headers ?? {}),
      ...(config.upstreams?.deployments.map((deployment) => deployment.apiKey) ?? []),
    ],
  });
  // A collector that is down must be seen, but not once per batch: at most a line a minute.
  let lastExportWarning = 0;
  const tracing =
    telemetry.tracing &&
    createTracing(telemetry.tracing, {
      onExportError: (error) => {
        if (Date.now() - lastExportWarning < 60_000) return;
        lastExportWarning = Date.now();
        logger.warn(
          { err: error.message },
          'traces could not be exported to the OTLP endpoint (more may follow)',
        );
      },
    });
  const metrics = createMetrics({
    knownOperationNames: operationNamesOf(config.trustedDocuments.manifest.values()),
  });
  const { provider, description, exampleModel, close } = await createProvider(config, logger);
  if (provider.name === 'local' && config.prompts.templates.length > 0) {
    // The embedded engine serves only its own models: a template on another would fail every call.
    assertTemplatesServed(
      config.prompts.templates,
      (await provider.listModels()).map((m) => m.id),
      'the embedded local engine',
    );
  }
  const storage = await createStorage({
    sqlitePath: config.sqlitePath,
    ...(config.databaseUrl === undefined ? {} : { databaseUrl: config.databaseUrl }),
  });
  const limiter = await createRateLimiter({ redisUrl: config.redisUrl });
  const promptCache = await openPromptCache(config.prompts.cacheStore, config.redisUrl, storage.promptCache);
  const authenticator = new ClientAuthenticator(config.clientKeys);
  const app = createApp({
    provider,
    logger,
    production: config.nodeEnv === 'production',
    limits: config.limits,
    exampleModel,
    authenticator,
    upstreamKeyPassthrough: config.upstreamKeyPassthrough,
    storage,
    limiter,
    rateLimit: resolveRateLimit(config),
    corsOrigins: config.corsOrigins,
    trustedDocuments: config.trustedDocuments,
    ...(config.prices ? { prices: config.prices } : {}),
    prompts: config.prompts,
    promptCache: promptCache ?? false,
    // Bound to loopback, only the developer's own names may reach it (no DNS rebinding).
    ...(isLoopback(config.host) ? { allowedHosts: loopbackHosts } : {}),
    wsInitTimeoutMs: config.wsInitTimeoutMs,
    metrics,
    ...(telemetry.metricsToken === undefined ? {} : { metricsToken: telemetry.metricsToken }),
    ...(tracing === undefined ? {} : { tracing }),
  });
  // A port that cannot be had (in use, not allowed) is a start failure said in one line, not a stack.
  const cannotListen = (error: Error) => {
    console.error(`Could not start: ${error.message}`);
    process.exit(1);
  };
  const metricsServer =
    telemetry.metricsPort === undefined
      ? undefined
      : createMetricsServer(
          metrics.registry,
          telemetry.metricsToken,
          isLoopback(config.host) ? loopbackHosts : undefined,
        )
          .once('error', cannotListen)
          .listen(telemetry.metricsPort, config.host);

  app.server.once('error', cannotListen);
  app.server.listen(config.port, config.host, () => {
    app.server.off('error', cannotListen);
    const { port } = app.server.address() as AddressInfo;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    logger.info(`Serving completions from ${description}`);
    logger.info(
      `Stored completions and usage in ${storage.dialect === 'postgres' ? 'PostgreSQL' : `SQLite (${config.sqlitePath})`}; limits ${config.redisUrl ? 'shared in Redis' : 'in memory'}${config.prompts.templates.length > 0 ? `; prompt cache ${promptCache?.kind ?? 'off'}` : ''}`,
    );
    if (!authenticator.required) {
      logger.warn(
        'No client keys configured (CLIENT_KEYS / CLIENT_KEYS_FILE): the service is open to anyone who can reach it',
      );
    }
    if (!config.redisUrl && config.clientKeys.some((key) => (key.policy?.budgets.length ?? 0) > 0)) {
      logger.warn(
        'Spend budgets are counted in memory: every restart starts them from zero (set REDIS_URL to keep them across restarts and instances)',
      );
    }
    const scrape = !authenticator.required
      ? 'open'
      : telemetry.metricsToken === undefined
        ? 'off (client keys are set: set METRICS_TOKEN to scrape)'
        : 'with Authorization: Bearer $METRICS_TOKEN';
    logger.info(
      `Metrics: http://${host}:${port}/metrics ${scrape}${telemetry.metricsPort === undefined ? '' : `; on port ${telemetry.metricsPort} ${telemetry.metricsToken === undefined ? 'open (no METRICS_TOKEN: keep that port private)' : 'with the token'}`}; traces ${tracing && telemetry.tracing ? `to ${new URL(telemetry.tracing.url).origin} (OTLP/HTTP ${telemetry.tracing.protocol === 'http/json' ? 'JSON' : 'protobuf'}, sampler ${telemetry.tracing.sampler}${telemetry.tracing.samplerArg === undefined ? '' : ` ${telemetry.tracing.samplerArg}`})` : 'off (set OTEL_EXPORTER_OTLP_ENDPOINT)'}`,
    );
    logger.info(
      { provider: provider.name, port },
      `GraphQL (GraphiQL in a browser): http://${host}:${port}/graphql`,
    );
    logger.info(`Playground (watch tokens stream): http://${host}:${port}/playground`);
  });

  let draining = false;
  const shutdown = async (signal: string) => {
    // A second signal does not cut the drain short: the ledger and streams' last events come first.
    if (draining) {
      logger.warn(`${signal} again: still draining (at most ${config.shutdown.graceMs} ms of grace)`);
      return;
    }
    draining = true;
    // Ctrl-C in a terminal has no load balancer to wait for.
    const delayMs = signal === 'SIGINT' ? 0 : config.shutdown.delayMs;
    logger.info(
      `${signal}: not ready; taking new connections for ${delayMs} ms, then ${config.shutdown.graceMs} ms for what runs`,
    );
    metricsServer?.close();
    await app.drain(delayMs, config.shutdown.graceMs);
    await Promise.allSettled([
      close(),
      storage.close(),
      limiter.close(),
      promptCache?.close?.(),
      tracing?.shutdown(),
    ]);
    logger.info('drained: ledger and stores flushed, connections closed');
    process.exit(0);
  };
  process.off('SIGTERM', stopWhileStarting);
  process.off('SIGINT', stopWhileStarting);
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(`Configuration error: ${error.message}`);
  } else {
    console.error('Could not start:', error instanceof Error ? error.message : error);
  }
  process.exit(1);
});
