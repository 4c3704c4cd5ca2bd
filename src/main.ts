import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';
import { ClientAuthenticator } from './auth/client-keys.js';
import { ConfigError, loadConfig, resolveRateLimit } from './config.js';
import { isLoopback, loopbackHosts } from './http/cors.js';
import { createRateLimiter } from './limits/index.js';
import { createLogger } from './logger.js';
import { createProvider } from './provider-factory.js';
import { createStorage } from './storage/index.js';

/** Process entry only: configuration, dependencies, app, listen, drain on SIGTERM. */

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({
    level: config.logLevel,
    secrets: [config.openaiApiKey, config.databaseUrl, config.redisUrl],
  });
  const { provider, description, exampleModel, close } = await createProvider(config, logger);
  const storage = await createStorage({
    sqlitePath: config.sqlitePath,
    ...(config.databaseUrl === undefined ? {} : { databaseUrl: config.databaseUrl }),
  });
  const limiter = await createRateLimiter({ redisUrl: config.redisUrl });
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
    // Bound to loopback, only the developer's own names may reach it (no DNS rebinding).
    ...(isLoopback(config.host) ? { allowedHosts: loopbackHosts } : {}),
    wsInitTimeoutMs: config.wsInitTimeoutMs,
  });

  app.server.listen(config.port, config.host, () => {
    const { port } = app.server.address() as AddressInfo;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    logger.info(`Serving completions from ${description}`);
    logger.info(
      `Stored completions and usage in ${storage.dialect === 'postgres' ? 'PostgreSQL' : `SQLite (${config.sqlitePath})`}; limits ${config.redisUrl ? 'shared in Redis' : 'in memory'}`,
    );
    if (!authenticator.required) {
      logger.warn(
        'No client keys configured (CLIENT_KEYS / CLIENT_KEYS_FILE): the service is open to anyone who can reach it',
      );
    }
    logger.info(
      { provider: provider.name, port },
      `GraphQL (GraphiQL in a browser): http://${host}:${port}/graphql`,
    );
  });

  const shutdown = async (signal: string) => {
    // Ctrl-C in a terminal has no load balancer to wait for.
    const delayMs = signal === 'SIGINT' ? 0 : config.shutdown.delayMs;
    logger.info(
      `${signal}: not ready; taking new connections for ${delayMs} ms, then ${config.shutdown.graceMs} ms for what runs`,
    );
    await app.drain(delayMs, config.shutdown.graceMs);
    await Promise.allSettled([close(), storage.close(), limiter.close()]);
    logger.info('drained: ledger and stores flushed, connections closed');
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(`Configuration error: ${error.message}`);
  } else {
    console.error('Could not start:', error instanceof Error ? error.message : error);
  }
  process.exit(1);
});
