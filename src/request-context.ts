import DataLoader from 'dataloader';
import { createGraphQLError } from 'graphql-yoga';
import type { Client } from './auth/client-keys.js';
import type { Completion } from './completions/model.js';
import type { ModelCatalog } from './completions/model-catalog.js';
import type { CompletionsService } from './completions/service.js';
import type { GraphQLContext } from './context.js';
import { errorCodes } from './errors.js';
import { extended } from './runtime/objects.js';
import type { CompletionStore, StoredCompletion, UsageLedger } from './storage/index.js';
import type { PromptCache } from './templates/result-cache.js';

/** Builds each operation's context from what the transport knows about the caller. */

export interface ContextDeps {
  completions: CompletionsService;
  models: ModelCatalog;
  /** Forward the caller's X-Upstream-Api-Key instead of the server's key. */
  upstreamKeyPassthrough: boolean;
  store?: CompletionStore;
  usage?: UsageLedger;
  /** The app's shutdown signal (see GraphQLContext.shutdown). */
  shutdown: AbortSignal;
  promptCache?: PromptCache;
}

/** The caller as its transport authenticated it (once): HTTP headers, or a WebSocket's connection. */
export interface Caller {
  signal: AbortSignal;
  /** Undefined: the transport did not admit the caller; nothing is run for it. */
  client: Client | undefined;
  /** The request's id (x-request-id), or the WebSocket connection's. */
  requestId?: string;
  upstreamApiKey: string | null | undefined;
}

export const upstreamKeyHeader = 'x-upstream-api-key';

function toCompletion(stored: StoredCompletion | null): Completion | null {
  if (stored === null) return null;
  return extended(stored.completion, { storedAt: stored.storedAt, parameters: stored.request });
}

export function createContextFactory(deps: ContextDeps): (caller: Caller) => GraphQLContext {
  return (caller) => {
    const client = caller.client;
    // Transports refuse unauthenticated callers before a context is built: this never runs for one.
    if (client === undefined) {
      throw createGraphQLError('This API needs a client key: send Authorization: Bearer <key>.', {
        extensions: { code: errorCodes.unauthenticated, http: { status: 401 } },
      });
    }
    const store = deps.store;
    // Built on first use: most operations (every completion) never read stored completions.
    // It reads only the caller's records: another client's id answers null, as an unknown one does.
    let loader: DataLoader<string, Completion | null> | undefined;
    const loadStored = (id: string): Promise<Completion | null> => {
      if (store === undefined) return Promise.resolve(null);
      loader ??= new DataLoader(async (ids) => (await store.getMany(client.name, ids)).map(toCompletion), {
        maxBatchSize: 500,
      });
      return loader.load(id);
    };
    const key = caller.upstreamApiKey?.trim();
    return {
      completions: deps.completions,
      models: deps.models,
      signal: caller.signal,
      client,
      upstreamApiKey: deps.upstreamKeyPassthrough && key ? key : undefined,
      storedCompletion: loadStored,
      usage: deps.usage,
      warnings: [],
      usageReport: [],
      requestId: caller.requestId,
      shutdown: deps.shutdown,
      ...(deps.promptCache ? { promptCache: deps.promptCache } : {}),
      cacheHint: undefined,
      // Set by the operation telemetry when tracing; present from the start so the shape never changes.
      trace: undefined,
    };
  };
}
