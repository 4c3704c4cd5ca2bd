import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { createProvider } from './provider-factory.js';

/** Process entry only: configuration, provider, app, listen, drain on SIGTERM. */

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, secrets: [config.openaiApiKey] });
  const { provider, description, exampleModel, close } = await createProvider(config, logger);
  const app = createApp({
    provider,
    logger,
    production: config.nodeEnv === 'production',
    limits: config.limits,
    exampleModel,
  });

  app.server.listen(config.port, config.host, () => {
    const { port } = app.server.address() as AddressInfo;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    logger.info(`Serving completions from ${description}`);
    logger.info(
      { provider: provider.name, port },
      `GraphQL (GraphiQL in a browser): http://${host}:${port}/graphql`,
    );
  });

  const shutdown = async (signal: string) => {
    logger.info(`${signal}: draining connections`);
    await app.close();
    await close();
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
