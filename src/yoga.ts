import type { IncomingMessage } from 'node:http';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { useApolloInlineTrace } from '@graphql-yoga/plugin-apollo-inline-trace';
import { GraphQLError } from 'graphql';
import { createYoga, maskError as defaultMaskError, type YogaServerInstance } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { ClientAuthenticator } from './auth/client-keys.js';
import { configDefaults, type OperationLimits } from './config.js';
import type { GraphQLContext } from './context.js';
import { originalError, toClientError } from './errors.js';
import { type CorsPolicy, sameOriginOnly, yogaCorsOptions } from './http/cors.js';
import { requestIdOf } from './http/request-id.js';
import { authenticatedClient, useClientAuth } from './plugins/client-auth.js';
import { useCompletionPreflight } from './plugins/completion-preflight.js';
import { usePostCsrfPrevention } from './plugins/csrf.js';
import { useEntitiesCap } from './plugins/entities-cap.js';
import { useErrorCodes } from './plugins/error-codes.js';
import { useGraphqlSse } from './plugins/graphql-sse.js';
import { useMediaTypeChecks } from './plugins/media-types.js';
import {
  createPersistedDocuments,
  type PersistedDocuments,
  usePersistedDocuments,
} from './plugins/persisted-documents.js';
import { useRequestIdExtension } from './plugins/request-id.js';
import { useResponseExtensions } from './plugins/response-extensions.js';
import { type Caller, upstreamKeyHeader } from './request-context.js';
import { schema } from './schema/index.js';

export interface YogaDeps {
  createContext: (caller: Caller) => GraphQLContext;
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
  return `# Try a completion (Ctrl-Enter runs it).
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
 * The stable code of an error yoga is about to log, as the client will see it: its own, or the one
 * its typed cause maps to (yoga logs a resolver's error before masking gives it a code).
 */
function clientCode(value: unknown): string | undefined {
  const own = value instanceof GraphQLError ? value.extensions.code : undefined;
  if (typeof own === 'string') return own;
  const code = toClientError(originalError(value))?.extensions.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * yoga logs every error a resolver raised. What the client was told with a stable code is routine
 * (a bad parameter, a cancelled call: debug); an upstream failure is the operator's business but
 * not a bug here (warn, its code alone: the document may hold a prompt); the rest stays an error.
 */
function logYogaError(logger: Logger, args: unknown[]): void {
  const code = clientCode(args[0]);
  if (code === undefined || code === 'INTERNAL_SERVER_ERROR') {
    logger.error(args.map(String).join(' '));
  } else if (code.startsWith('UPSTREAM_')) {
    logger.warn({ code }, (originalError(args[0]) as Error).message ?? code);
  } else if (logger.isLevelEnabled('debug')) {
    logger.debug({ code }, args.map(String).join(' '));
  }
}

export type ErrorMasker = (error: unknown, message: string, isDev?: boolean) => Error;

/**
 * The one place errors meet clients: typed errors get their stable codes (src/errors.ts), anything
 * else is masked (its message shown only outside production) and logged.
 */
export function createErrorMasker(logger: Logger, production: boolean): ErrorMasker {
  return (error, message, isDev) => {
    const path = (error as { path?: readonly (string | number)[] }).path;
    const mapped = toClientError(originalError(error), path);
    if (mapped !== undefined) return mapped;
    const masked = defaultMaskError(error, message, isDev === true && !production);
    if (masked !== error)
      logger.error({ err: originalError(error) }, 'unexpected error, masked for the client');
    return masked;
  };
}

export function createYogaApp(deps: YogaDeps): CompletionsYoga {
  const documents = deps.documents ?? createPersistedDocuments();
  const { logger } = deps;
  const limits = deps.limits ?? configDefaults.limits;
  return createYoga<ServerContext, GraphQLContext>({
    schema,
    graphqlEndpoint,
    healthCheckEndpoint: '/healthz',
    landingPage: false,
    graphiql: {
      title: 'completions-subgraph',
      defaultQuery: defaultQuery(deps.exampleModel ?? 'gpt-3.5-turbo-instruct'),
    },
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
      useEntitiesCap(limits.maxEntityRepresentations),
      useCompletionPreflight({
        maxCompletions: limits.maxCompletionsPerOperation,
        maxEstimatedTokens: limits.maxEstimatedTokensPerOperation,
        defaultMaxTokens: limits.defaultMaxTokens,
      }),
      useGraphqlSse(graphqlSseEndpoint, documents),
      // Federated tracing: only when a gateway asks (apollo-federation-include-trace: ftv1).
      useApolloInlineTrace(),
      useResponseExtensions(),
      useRequestIdExtension(),
      // Last, so that it labels the errors of every stage above.
      useErrorCodes(),
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
}
