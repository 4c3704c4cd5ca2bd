import type { IncomingMessage } from 'node:http';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { useApolloInlineTrace } from '@graphql-yoga/plugin-apollo-inline-trace';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import {
  createYoga,
  maskError as defaultMaskError,
  type Plugin,
  type YogaServerInstance,
} from 'graphql-yoga';
import type { Logger } from 'pino';
import type { ClientAuthenticator } from './auth/client-keys.js';
import { configDefaults, type OperationLimits } from './config.js';
import type { GraphQLContext } from './context.js';
import { errorCodes, originalError, toClientError } from './errors.js';
import { type CorsPolicy, sameOriginOnly, yogaCorsOptions } from './http/cors.js';
import { renderOfflineGraphiQL, useGraphiqlPageHeaders } from './http/graphiql.js';
import { requestIdOf } from './http/request-id.js';
import { useCacheHints } from './plugins/cache-hints.js';
import { authenticatedClient, useClientAuth } from './plugins/client-auth.js';
import { useCompletionPreflight } from './plugins/completion-preflight.js';
import { composeExecuteHooks } from './plugins/compose.js';
import { usePostCsrfPrevention } from './plugins/csrf.js';
import { useEntitiesCap } from './plugins/entities-cap.js';
import { useErrorCodes } from './plugins/error-codes.js';
import { useGraphqlSse } from './plugins/graphql-sse.js';
import { useMediaTypeChecks } from './plugins/media-types.js';
import { clientCode, useOperationTelemetry } from './plugins/operation-telemetry.js';
import {
  createPersistedDocuments,
  type PersistedDocuments,
  usePersistedDocuments,
} from './plugins/persisted-documents.js';
import { useRequestIdExtension } from './plugins/request-id.js';
import { useResponseExtensions } from './plugins/response-extensions.js';
import { type Caller, upstreamKeyHeader } from './request-context.js';
import { schema } from './schema/index.js';
import type { Metrics } from './telemetry/metrics.js';
import type { Tracing } from './telemetry/tracing.js';

export interface YogaDeps {
  createContext: (caller: Caller) => GraphQLContext;
  /** The served schema (with the configured prompt templates); the static one by default. */
  schema?: GraphQLSchema;
  /** false (ALLOW_RAW_PROMPTS): createCompletion and completionStream refuse; templates still run. */
  allowRawPrompts?: boolean;
  authenticator: ClientAuthenticator;
  logger: Logger;
  /** Development shows masked errors' messages; production never does. */
  production: boolean;
  /** A first query for GraphiQL, naming a model this server can really serve. */
  exampleModel?: string;
  limits?: OperationLimits;
  /** Trusted and learnt documents (APQ); the same resolver serves the other transports. */
  documents?: PersistedDocuments;
  /** From createErrorMasker; shared with the transports that write results themselves. */
  maskError: ErrorMasker;
  /** Browser origins besides this server's own; same-origin only by default. */
  cors?: CorsPolicy;
  metrics: Metrics;
  /** Traces over OTLP, when configured. */
  tracing?: Tracing;
  /**
   * Apollo's federated traces (`extensions.ftv1`), for the gateways that ask: the plugin wraps
   * every resolver of the schema in place, so only an instance on a schema of its own has it.
   */
  federatedTraces?: boolean;
}

/** What a transport hands yoga besides the request: a WebSocket operation brings its own caller. */
export interface ServerContext {
  caller?: Caller;
  /** The Node request, as yoga's Node adapter passes it (and the routes that call getEnveloped). */
  req?: IncomingMessage;
}

export type CompletionsYoga = YogaServerInstance<ServerContext, GraphQLContext>;

/** graphql-sse's single-connection mode; its distinct-connections mode is yoga's own SSE on /graphql. */
export const graphqlSseEndpoint = '/graphql/stream';

export const graphqlEndpoint = '/graphql';

function defaultQuery(model: string): string {
  return `# Try a completion (Ctrl-Enter runs it). To watch tokens arrive and see the model's
# alternatives, open the playground: /playground
mutation Complete {
  createCompletion(input: { model: "${model}", prompt: { text: "Call me Ishmael." }, maxTokens: 24, temperature: 0.7 }) {
    id
    model
    choices { index text finishReason }
    usage { promptTokens completionTokens totalTokens }
  }
}
`;
}

/**
 * yoga logs every error it handles. Those of an operation (they have a path) were already logged
 * by the operation telemetry, with the request id and at their level; what is left happened before
 * any operation ran: a client's malformed request (debug), or a fault here (error).
 */
function logYogaError(logger: Logger, args: unknown[]): void {
  const error = args[0];
  if (error instanceof GraphQLError && error.path !== undefined) return;
  const code = clientCode(error);
  if (code === undefined || code === errorCodes.internal) {
    // The error itself (name, message, stack), never String(GraphQLError): that prints the
    // document around its location, and with it the prompt written inline.
    logger.error({ err: originalError(error), code }, 'unexpected error, masked for the client');
  } else if (logger.isLevelEnabled('debug')) {
    // Its code alone: a client's error message may quote what it sent (a variable's value: a prompt).
    logger.debug({ code }, 'request refused');
  }
}

export type ErrorMasker = (error: unknown, message: string, isDev?: boolean) => Error;

/**
 * The one place errors meet clients: typed errors get their stable codes (src/errors.ts), anything
 * else is masked (its message shown only outside production) and logged.
 */
export function createErrorMasker(production: boolean): ErrorMasker {
  return (error, message, isDev) => {
    const path = (error as { path?: readonly (string | number)[] }).path;
    const mapped = toClientError(originalError(error), path);
    if (mapped !== undefined) return mapped;
    // Logged where the request id is known: by the operation telemetry, or yoga's logger above.
    return defaultMaskError(error, message, isDev === true && !production);
  };
}

type OnExecute = NonNullable<Plugin['onExecute']>;

/**
 * What the JSON route needs to run an operation without envelop's orchestration: the schema, the
 * context as yoga builds it, and our execute hooks as one. envelop paid for its execute hooks
 * (yoga's engine, ours, the masking) with closures and promise helpers on every operation.
 */
export interface DirectExecution {
  schema: GraphQLSchema;
  createContext: (caller: Caller) => GraphQLContext;
  onExecute: OnExecute;
}

const directExecutions = new WeakMap<CompletionsYoga, DirectExecution>();

/** The direct execution of a yoga made by createYogaApp. */
export function directExecutionOf(yoga: CompletionsYoga): DirectExecution {
  const direct = directExecutions.get(yoga);
  if (direct === undefined) throw new Error('not a yoga made by createYogaApp');
  return direct;
}

export function createYogaApp(deps: YogaDeps): CompletionsYoga {
  const documents = deps.documents ?? createPersistedDocuments();
  const { logger } = deps;
  const limits = deps.limits ?? configDefaults.limits;
  const executeHooks = composeExecuteHooks(
    // Before the refusals below: a refused query is told no-store too.
    useCacheHints(),
    useEntitiesCap(limits.maxEntityRepresentations),
    // Before the preflight, so that the operations it refuses are observed too.
    useOperationTelemetry({
      logger,
      metrics: deps.metrics,
      ...(deps.tracing === undefined ? {} : { tracing: deps.tracing }),
    }),
    useCompletionPreflight({
      maxCompletions: limits.maxCompletionsPerOperation,
      maxEstimatedTokens: limits.maxEstimatedTokensPerOperation,
      defaultMaxTokens: limits.defaultMaxTokens,
      allowRawPrompts: deps.allowRawPrompts ?? true,
    }),
    useGraphqlSse(graphqlSseEndpoint, documents, deps.maskError),
    // Federated tracing: only when a gateway asks (apollo-federation-include-trace: ftv1).
    ...(deps.federatedTraces === true ? [useApolloInlineTrace()] : []),
    useResponseExtensions(),
    useRequestIdExtension(),
    // Last, so that it labels the errors of every stage above.
    useErrorCodes(),
  );
  const yoga = createYoga<ServerContext, GraphQLContext>({
    schema: deps.schema ?? schema,
    graphqlEndpoint,
    healthCheckEndpoint: '/healthz',
    landingPage: false,
    graphiql: {
      title: 'completions-subgraph',
      defaultQuery: defaultQuery(deps.exampleModel ?? 'gpt-3.5-turbo-instruct'),
      // GraphiQL runs subscriptions as a GET for an event stream, which the CSRF rule refuses
      // without this header (a cross-site page cannot add it without a preflight).
      additionalHeaders: { 'x-graphql-yoga-csrf': 'graphiql' },
      // A client key typed into the headers tab stays in this tab only, not in localStorage for
      // whoever uses the browser next (the playground keeps its key in sessionStorage alike).
      shouldPersistHeaders: false,
    },
    // Served from this server (no CDN): the IDE works offline and under the page's CSP.
    renderGraphiQL: renderOfflineGraphiQL,
    logging: {
      // yoga logs several debug lines per request: build them only when someone reads them.
      debug: (...args) => {
        if (logger.isLevelEnabled('debug')) logger.debug(args.map(String).join(' '));
      },
      info: (...args) => logger.info(args.map(String).join(' ')),
      warn: (...args) => logger.warn(args.map(String).join(' ')),
      // yoga logs every error a resolver raised; one the client was told about with a stable code
      // (an upstream 503, a bad parameter) is routine, not an operator alert.
      error: (...args) => logYogaError(logger, args),
    },
    maskedErrors: { maskError: deps.maskError },
    batching: false,
    // The client preset's persisted-documents requests name their document in the body.
    extraParamNames: ['documentId'],
    cors: (request) => yogaCorsOptions(deps.cors ?? sameOriginOnly, request.headers.get('origin')),
    plugins: [
      useGraphiqlPageHeaders(),
      useClientAuth(deps.authenticator),
      usePersistedDocuments(documents),
      usePostCsrfPrevention(),
      useMediaTypeChecks(),
      EnvelopArmorPlugin({
        maxDepth: { n: limits.maxDepth },
        maxAliases: { n: limits.maxAliases },
        maxTokens: { n: limits.maxTokens },
        maxDirectives: { n: limits.maxDirectives },
        // Completion fields are priced by the LLM-aware rule below, not by generic field weights.
        costLimit: { enabled: false },
        blockFieldSuggestion: { enabled: deps.production },
      }),
      // One execute hook for envelop instead of one per plugin (see composeExecuteHooks).
      ...executeHooks,
    ],
    context: ({ request, caller, req }) =>
      deps.createContext(
        caller ?? {
          // An HTTP request's signal aborts when the client disconnects.
          signal: request.signal,
          client: authenticatedClient(request),
          upstreamApiKey: request.headers.get(upstreamKeyHeader),
          ...(req === undefined ? {} : { requestId: requestIdOf(req) }),
        },
      ),
  });
  const [composite] = executeHooks;
  // Every plugin envelop runs, yoga's own and those added at init (yoga's `plugins`): the direct
  // execution stands for exactly three execute hooks, yoga's engine, the composite and yoga's
  // masking. Another one (a plugin added here, or by a yoga upgrade) would be skipped on the JSON
  // route: refused here, where tests meet it, rather than skipped in production.
  const plugins = (yoga as unknown as { plugins?: readonly Plugin[] }).plugins ?? [];
  const hooked = plugins.filter((plugin) => plugin.onExecute !== undefined).length;
  if (composite?.onExecute === undefined || hooked !== 3) {
    throw new Error(`yoga runs ${hooked} execute hooks; the JSON route's direct execution stands for 3`);
  }
  directExecutions.set(yoga, {
    schema: deps.schema ?? schema,
    createContext: deps.createContext,
    onExecute: composite.onExecute,
  });
  return yoga;
}
