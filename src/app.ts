import { setMaxListeners } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { GraphQLSchema } from 'graphql';
import { ClientAuthenticator } from './auth/client-keys.js';
import { assertWithinCeilings } from './completions/operation-limits.js';
import { prepareFromWire } from './completions/prepare.js';
import { configDefaults, type OperationLimits } from './config.js';
import { errorCodes } from './errors.js';
import { enforceBodyCap, sendPayloadTooLarge } from './http/body-limit.js';
import { createCorsPolicy, foreignHostMessage, hostAllowed } from './http/cors.js';
import { createGraphiqlAssetsRoute } from './http/graphiql.js';
import { headerText } from './http/headers.js';
import { createMetricsRoute } from './http/metrics-route.js';
import { createPlaygroundRoute } from './http/playground.js';
import { createReadinessRoute } from './http/readiness.js';
import { requestIdHeader, requestIdOf } from './http/request-id.js';
import type { RouteHandler } from './http/route.js';
import { sendError } from './http/send-error.js';
import { createPersistedDocuments } from './plugins/persisted-documents.js';
import { upstreamKeyHeader } from './request-context.js';
import { createOpenAiCompatHandler } from './rest/openai-compat.js';
import { extended } from './runtime/objects.js';
import { buildSchema, schemaCopy } from './schema/templates/schema.js';
import type { Storage } from './storage/index.js';
import { restObserver } from './telemetry/access-log.js';
import type { Metrics } from './telemetry/metrics.js';
import { RawPromptForbiddenError } from './templates/errors.js';
import type { PromptsConfig } from './templates/template.js';
import { createJsonRoute } from './transports/json-route.js';
import { createSseSubscriptionRoute } from './transports/sse.js';
import { attachWebSocket } from './transports/websocket.js';
import type { CircuitBreaker } from './upstream/circuit-breaker.js';
import { assembleUseCase, type UseCaseDeps } from './use-case.js';
import { type CompletionsYoga, createErrorMasker, createYogaApp, type YogaDeps } from './yoga.js';

export type { RouteHandler } from './http/route.js';

/** The use case's dependencies (use-case.ts), and what the HTTP server around it needs. */
export interface AppDeps extends UseCaseDeps {
  production: boolean;
  exampleModel?: string;
  limits?: OperationLimits;
  /** No keys: the service runs open, every caller is `anonymous`. */
  authenticator?: ClientAuthenticator;
  /** Extra routes served before GraphQL on the same port. */
  routes?: RouteHandler[];
  /** Browser origins besides this server's own (`*`: any, without credentials); none by default. */
  corsOrigins?: readonly string[];
  /** Trusted documents by sha256, and whether only they may run (TRUSTED_DOCUMENTS_FILE / _ONLY). */
  trustedDocuments?: { manifest: ReadonlyMap<string, string>; only: boolean };
  /** Host names the server answers to (loopback names when bound to loopback); any when unset. */
  allowedHosts?: readonly string[];
  /** A WebSocket that sends no connection_init within this is closed (4408). */
  wsInitTimeoutMs?: number;
  /** Operations running at once on one WebSocket. */
  wsMaxOperationsPerSocket?: number;
  /** `/metrics` needs this bearer token when client keys are configured (404 without one). */
  metricsToken?: string;
  /** Prompt templates (each a field of Query.prompt) and whether raw prompts may run; none, and yes, by default. */
  prompts?: PromptsConfig;
}

export interface App {
  server: Server;
  yoga: CompletionsYoga;
  breaker: CircuitBreaker;
  metrics: Metrics;
  /** True from the start of a drain or close: `/readyz` answers 503. */
  readonly draining: boolean;
  /**
   * SIGTERM: `/readyz` turns 503 at once, new connections are still taken for `delayMs`, then
   * `close(graceMs)`.
   */
  drain(delayMs?: number, graceMs?: number): Promise<void>;
  /** Operations answered by the fast JSON route instead of yoga's HTTP layer. */
  readonly served: { readonly jsonRoute: number };
  /**
   * Stops accepting connections, lets in-flight requests finish for `graceMs`, then cuts the rest;
   * resolves once the writes of calls already paid for (ledger, settlements) are done.
   */
  close(graceMs?: number): Promise<void>;
}

export function createApp(deps: AppDeps): App {
  const limits = deps.limits ?? configDefaults.limits;
  const authenticator = deps.authenticator ?? new ClientAuthenticator([]);
  let draining = false;
  // Fired when the grace period of a shutdown ends: open streams end with a coded event.
  const shutdown = new AbortController();
  // Every open stream listens to it.
  setMaxListeners(0, shutdown.signal);
  const useCase = assembleUseCase(deps, authenticator, shutdown.signal);
  const { breaker, router, guarded, limiter, metrics, ledger, budget, completions, createContext } = useCase;
  // One masking function for yoga and for the SSE route, so a stream's errors read as yoga's.
  const maskError = createErrorMasker(deps.production);
  const cors = createCorsPolicy(deps.corsOrigins, deps.allowedHosts);
  // Known documents, one policy for every transport.
  const documents = createPersistedDocuments({
    trustedOnly: deps.trustedDocuments?.only ?? false,
    ...(deps.trustedDocuments ? { manifest: deps.trustedDocuments.manifest } : {}),
  });
  const yogaDeps: YogaDeps & { schema: GraphQLSchema } = {
    schema: buildSchema(deps.prompts?.templates ?? []),
    allowRawPrompts: deps.prompts?.allowRawPrompts ?? true,
    documents,
    cors,
    maskError,
    createContext,
    authenticator,
    logger: deps.logger,
    production: deps.production,
    limits,
    metrics,
    ...(deps.tracing === undefined ? {} : { tracing: deps.tracing }),
    ...(deps.exampleModel === undefined ? {} : { exampleModel: deps.exampleModel }),
  };
  const yoga = createYogaApp(yogaDeps);
  // A gateway's request for a federated trace runs on an instance whose resolvers are wrapped to
  // time each field; every other operation runs the resolvers as they are (the wrapping cost ~9 % of
  // what an operation allocates). Built at the first such request.
  let tracingYoga: CompletionsYoga | undefined;
  const yogaFor = (req: IncomingMessage): CompletionsYoga => {
    if (req.headers['apollo-federation-include-trace'] === undefined) return yoga;
    tracingYoga ??= createYogaApp(
      extended(yogaDeps, { schema: schemaCopy(yogaDeps.schema), federatedTraces: true }),
    );
    return tracingYoga;
  };
  // The OpenAI-compatible REST face: one request is one operation, through the same use case.
  const rest = createOpenAiCompatHandler({
    completions,
    shutdown: shutdown.signal,
    // The same list as Query.models: public names, and only a limited key's own models.
    listModels: async (client) => {
      const all = await guarded.listModels();
      const allowed = client === undefined ? undefined : authenticator.policyOf(client)?.models;
      return allowed === undefined ? all : all.filter((model) => allowed.has(model.id));
    },
    maxBodyBytes: limits.maxRequestBytes,
    prepare: (request) => {
      // The REST face has raw prompts only: with ALLOW_RAW_PROMPTS=false it runs nothing paid.
      if (deps.prompts?.allowRawPrompts === false) throw new RawPromptForbiddenError();
      const call = prepareFromWire(request, limits);
      assertWithinCeilings([call], {
        maxCompletions: limits.maxCompletionsPerOperation,
        maxEstimatedTokens: limits.maxEstimatedTokensPerOperation,
      });
      return call;
    },
    observe: restObserver(deps.logger, deps.tracing),
    identify: (req) => {
      const auth = authenticator.authenticate(req.headers.authorization);
      if (!auth.ok) return null;
      const key = headerText(req.headers[upstreamKeyHeader]);
      return { client: auth.client.name, ...(deps.upstreamKeyPassthrough && key ? { apiKey: key } : {}) };
    },
  });
  const sseSubscriptions = createSseSubscriptionRoute({
    yoga,
    documents,
    cors,
    authenticator,
    maskError,
    maxBodyBytes: limits.maxRequestBytes,
  });
  // The common JSON POST, through yoga's envelop without its fetch-API layer.
  const served = { jsonRoute: 0 };
  const jsonOperations = createJsonRoute({
    yoga,
    documents,
    authenticator,
    maxBodyBytes: limits.maxRequestBytes,
    cors,
    onServed: () => served.jsonRoute++,
  });
  const readiness = createReadinessRoute({
    draining: () => draining,
    checks: Object.assign(
      {},
      deps.storage ? { storage: () => (deps.storage as Storage).ping().then(() => undefined) } : undefined,
      limiter.ping
        ? { rateLimiter: () => (limiter.ping as () => Promise<void>)().then(() => undefined) }
        : undefined,
      {
        // Not ready only when nothing can serve: with a router, every deployment's breaker open.
        upstream: async () =>
          router ? router.routing.readiness() : breaker.state === 'open' ? 'circuit breaker open' : undefined,
      },
    ),
  });
  const metricsRoute = createMetricsRoute({
    registry: metrics.registry,
    open: !authenticator.required,
    token: deps.metricsToken,
  });
  // The browser pages' files (GraphiQL's bundle, the playground), served by this server: no CDN.
  const pages = [createGraphiqlAssetsRoute(deps.logger), createPlaygroundRoute(deps.logger)];
  const routes = [
    readiness,
    metricsRoute,
    ...(deps.routes ?? []),
    rest,
    sseSubscriptions,
    jsonOperations,
    ...pages,
  ];

  const server = createServer(async (req, res) => {
    res.setHeader(requestIdHeader, requestIdOf(req));
    await serve(req, res);
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      // A Host this server does not answer to (DNS rebinding, or a wrong name): nothing runs.
      if (!hostAllowed(cors, req)) {
        return sendError(res, 421, errorCodes.misdirectedRequest, foreignHostMessage);
      }
      // An absolute-form (`http://host/graphql`) or `*` target: a proxy's request, not ours (and
      // yoga's URL parsing throws on it).
      if (!req.url?.startsWith('/')) {
        return sendError(res, 400, errorCodes.badRequest, 'The request target must be a path.');
      }
      for (const route of routes) {
        const answered = route(req, res);
        if (answered === true || (answered !== false && (await answered))) return;
      }
      const cap = await enforceBodyCap(req, limits.maxRequestBytes);
      if (cap === 'too-large') return sendPayloadTooLarge(res, limits.maxRequestBytes);
      await yogaFor(req)(req, res);
    } catch (error) {
      deps.logger.error({ err: error }, 'request failed outside GraphQL');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"errors":[{"message":"Unexpected error.","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}');
    }
  }

  const webSocket = attachWebSocket(server, {
    yoga,
    documents,
    authenticator,
    cors,
    maxPayloadBytes: limits.maxRequestBytes,
    initTimeoutMs: deps.wsInitTimeoutMs ?? configDefaults.wsInitTimeoutMs,
    ...(deps.wsMaxOperationsPerSocket === undefined
      ? {}
      : { maxOperationsPerSocket: deps.wsMaxOperationsPerSocket }),
  });

  metrics.watchWebSockets(() => webSocket.connections);

  return {
    server,
    yoga,
    breaker,
    metrics,
    served,
    get draining() {
      return draining;
    },
    async drain(delayMs = 0, graceMs = 10_000) {
      // Not ready at once, still serving for `delayMs`: load balancers notice before the port closes.
      draining = true;
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      await this.close(graceMs);
    },
    async close(graceMs = 10_000) {
      draining = true;
      await new Promise<void>((resolve) => {
        // In-flight operations and open streams get `graceMs`; then streams end with a coded
        // SHUTTING_DOWN event, and whatever connection is left a moment later is cut.
        const endStreams = setTimeout(() => {
          shutdown.abort();
          // A moment for the streams to send their coded last event (graphql-ws sends it a few
          // turns after the abort); closing the sockets at once dropped it.
          setTimeout(() => void webSocket.close(), 100).unref();
          setTimeout(() => server.closeAllConnections(), 1_000).unref();
        }, graceMs);
        endStreams.unref();
        server.close(() => {
          clearTimeout(endStreams);
          void webSocket.close();
          resolve();
        });
        server.closeIdleConnections();
      });
      // Ledger entries and settlements of calls already paid for, before storage and Redis close.
      await budget.pending.drain();
      await ledger?.close();
      await useCase.promptCache?.drain();
    },
  };
}
