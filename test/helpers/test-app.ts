import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { type App, type AppDeps, createApp, type RouteHandler } from '../../src/app.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { createHttpProvider, type HttpProviderOptions } from '../../src/upstream/http.js';
import type { CompletionsProvider } from '../../src/upstream/provider.js';
import { canaryKey, type StubUpstream, startStubUpstream } from './stub-upstream.js';

/**
 * The real application on a real port of 127.0.0.1, in front of a stub upstream. Every response
 * body and every log line is kept, so each test file can check that no secret ever leaked.
 */

export interface TestApp {
  origin: string;
  graphqlUrl: string;
  app: App;
  logs: string[];
  bodies: string[];
  post(
    query: string,
    variables?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<GraphQLResponse>;
  /** Throws when a canary secret shows up in a response or a log line. */
  assertNoSecretLeaked(secrets?: string[]): void;
  close(): Promise<void>;
}

export interface GraphQLResponse {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary response shapes
  json: any;
}

export async function startTestApp(options: {
  provider?: CompletionsProvider;
  upstream?: Partial<HttpProviderOptions> & { baseUrl: string };
  routes?: RouteHandler[];
  production?: boolean;
  app?: Partial<Omit<AppDeps, 'provider' | 'logger'>>;
}): Promise<TestApp> {
  const logs: string[] = [];
  const bodies: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      logs.push(String(chunk));
      callback();
    },
  });
  const upstream = options.upstream;
  const provider =
    options.provider ??
    createHttpProvider({
      apiKey: canaryKey,
      timeoutMs: 5_000,
      maxRetries: 2,
      maxResponseBytes: 1024 * 1024,
      backoff: { baseDelayMs: 5, maxDelayMs: 20 },
      ...(upstream ?? { baseUrl: 'http://127.0.0.1:9/v1' }),
    });
  const logger = createLogger({ level: 'debug', secrets: [canaryKey], destination });
  const app = createApp({
    provider,
    logger,
    production: options.production ?? false,
    routes: options.routes ?? [],
    // Generous by default, and no breaker, so that only the tests about them meet them.
    rateLimit: { requestsPerMinute: 100_000, tokensPerMinute: 100_000_000 },
    breaker: { minimumCalls: Number.MAX_SAFE_INTEGER },
    ...options.app,
  });
  await new Promise<void>((resolve) => app.server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const graphqlUrl = `${origin}/graphql`;

  return {
    origin,
    graphqlUrl,
    app,
    logs,
    bodies,
    async post(query, variables, headers = {}) {
      const response = await fetch(graphqlUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json',
          ...headers,
        },
        body: JSON.stringify({ query, variables }),
      });
      const text = await response.text();
      bodies.push(text, JSON.stringify([...response.headers]));
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: response.status, headers: response.headers, text, json };
    },
    assertNoSecretLeaked(secrets = [canaryKey, canaryKey.slice(0, 8), canaryKey.slice(-6)]) {
      for (const secret of secrets) {
        const where = [...bodies, ...logs].find((text) => text.includes(secret));
        if (where !== undefined)
          throw new Error(`secret ${secret.slice(0, 4)}… leaked in: ${where.slice(0, 300)}`);
      }
    },
    async close() {
      await app.close(100);
      if ('close' in provider && typeof provider.close === 'function') await provider.close();
    },
  };
}

export interface StubbedApp {
  stub: StubUpstream;
  app: TestApp;
}

/** A fresh stub upstream and the app in front of it: what most end-to-end files start with. */
export async function startStubbedApp(
  options: Omit<Parameters<typeof startTestApp>[0], 'upstream'> & {
    upstream?: Partial<HttpProviderOptions>;
  } = {},
): Promise<StubbedApp> {
  const stub = await startStubUpstream();
  const app = await startTestApp({ ...options, upstream: { ...options.upstream, baseUrl: stub.baseUrl } });
  return { stub, app };
}

/** Closes both, after checking that no canary secret reached a response or a log line. */
export async function stopStubbedApp({ stub, app }: StubbedApp): Promise<void> {
  app.assertNoSecretLeaked();
  await app.close();
  await stub.close();
}
