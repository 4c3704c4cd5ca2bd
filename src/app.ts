import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { ClientAuthenticator } from './auth/client-keys.js';
import { enforceBodyCap, sendPayloadTooLarge } from './body-limit.js';
import { withClientLimits } from './completions/client-limits.js';
import { createModelCatalog } from './completions/model-catalog.js';
import { createCompletionsService } from './completions/service.js';
import { findViolation } from './completions/validation.js';
import { configDefaults, type OperationLimits } from './config.js';
import { headerText } from './http-headers.js';
import { createMemoryRateLimiter, type LimitPolicy, type RateLimiter } from './limits/index.js';
import { createContextFactory, upstreamKeyHeader } from './request-context.js';
import { createOpenAiCompatHandler } from './rest/openai-compat.js';
import type { Storage } from './storage/index.js';
import { createSseSubscriptionRoute } from './transports/sse.js';
import { attachWebSocket } from './transports/websocket.js';
import {
  CircuitBreaker,
  type CircuitBreakerOptions,
  withCircuitBreaker,
} from './upstream/circuit-breaker.js';
import type { CompletionsProvider } from './upstream/provider.js';
import { type CompletionsYoga, createErrorMasker, createYogaApp } from './yoga.js';

/** A handler that answers some routes itself and returns false for the rest. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

export interface AppDeps {
  provider: CompletionsProvider;
  logger: Logger;
  production: boolean;
  exampleModel?: string;
  limits?: OperationLimits;
  /** No keys: the service runs open, every caller is `anonymous`. */
  authenticator?: ClientAuthenticator;
  upstreamKeyPassthrough?: boolean;
  /** Stored completions and the usage ledger; without it `store: true` only warns. */
  storage?: Storage;
  /** Shared (Redis) or per-process limits; in memory by default. */
  limiter?: RateLimiter;
  rateLimit?: LimitPolicy;
  breaker?: Partial<CircuitBreakerOptions>;
  /** Extra routes served before GraphQL on the same port. */
  routes?: RouteHandler[];
}

export interface App {
  server: Server;
  yoga: CompletionsYoga;
  breaker: CircuitBreaker;
  /** Stops accepting connections, lets in-flight requests finish for `graceMs`, then cuts the rest. */
  close(graceMs?: number): Promise<void>;
}

export function createApp(deps: AppDeps): App {
  const limits = deps.limits ?? configDefaults.limits;
  const authenticator = deps.authenticator ?? new ClientAuthenticator([]);
  const breaker = new CircuitBreaker(deps.breaker);
  const limiter = deps.limiter ?? createMemoryRateLimiter();
  // Client budgets outside the breaker: a call the open circuit refuses gives its reservation back.
  const provider = withClientLimits({
    provider: withCircuitBreaker(deps.provider, breaker),
    limiter,
    policy: deps.rateLimit ?? configDefaults.rateLimit,
    ...(deps.storage ? { ledger: deps.storage.usage } : {}),
    onLedgerError: (error) => deps.logger.warn({ err: error }, 'usage ledger write failed'),
  });
  const completions = createCompletionsService({
    provider,
    ...(deps.storage ? { store: deps.storage.completions } : {}),
  });
  const models = createModelCatalog({ provider });
  const createContext = createContextFactory({
    completions,
    models,
    authenticator,
    upstreamKeyPassthrough: deps.upstreamKeyPassthrough ?? false,
    ...(deps.storage ? { store: deps.storage.completions, usage: deps.storage.usage } : {}),
  });
  // One masking function for yoga and for the SSE route, so a stream's errors read as yoga's.
  const maskError = createErrorMasker(deps.logger, deps.production);
  const yoga = createYogaApp({
    maskError,
    createContext,
    authenticator,
    logger: deps.logger,
    production: deps.production,
    limits,
    ...(deps.exampleModel === undefined ? {} : { exampleModel: deps.exampleModel }),
  });
  // The OpenAI-compatible REST face: the same provider, limits, keys and request rules.
  const rest = createOpenAiCompatHandler({
    provider,
    maxBodyBytes: limits.maxRequestBytes,
    validate: (request) => {
      const violation = findViolation(request);
      return violation && { param: violation.param, message: `${violation.param} ${violation.problem}` };
    },
    identify: (req) => {
      const auth = authenticator.authenticate(req.headers.authorization);
      if (!auth.ok) return null;
      const key = headerText(req.headers[upstreamKeyHeader]);
      return { client: auth.client.name, ...(deps.upstreamKeyPassthrough && key ? { apiKey: key } : {}) };
    },
  });
  const sseSubscriptions = createSseSubscriptionRoute({
    yoga,
    authenticator,
    maskError,
    maxBodyBytes: limits.maxRequestBytes,
  });
  const routes = [...(deps.routes ?? []), rest, sseSubscriptions];

  const server = createServer(async (req, res) => {
    try {
      for (const route of routes) if (await route(req, res)) return;
      const cap = await enforceBodyCap(req, limits.maxRequestBytes);
      if (cap === 'too-large') return sendPayloadTooLarge(res, limits.maxRequestBytes);
      await yoga(req, res);
    } catch (error) {
      deps.logger.error({ err: error }, 'request failed outside GraphQL');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"errors":[{"message":"Unexpected error.","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}');
    }
  });

  const webSocket = attachWebSocket(server, yoga, authenticator);

  return {
    server,
    yoga,
    breaker,
    close: (graceMs = 10_000) =>
      new Promise<void>((resolve) => {
        void webSocket.close();
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
