import type { ModelCatalog } from './completions/model-catalog.js';
import type { CompletionsService } from './completions/service.js';

/** What every resolver receives. Built per request by `createYoga`; resolvers never read globals. */
export interface GraphQLContext {
  completions: CompletionsService;
  models: ModelCatalog;
  /** Aborts when the client goes away: passed down to the upstream call. */
  signal: AbortSignal;
}
