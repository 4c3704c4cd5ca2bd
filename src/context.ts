import type { Client } from './auth/client-keys.js';
import type { Completion } from './completions/model.js';
import type { ModelCatalog } from './completions/model-catalog.js';
import type { PreparedCompletion } from './completions/prepare.js';
import type { CallUsage, CompletionsService } from './completions/service.js';
import type { UsageLedger } from './storage/index.js';
import type { PromptCache } from './templates/result-cache.js';

/** A note for the client that something secondary failed while its paid result is still returned. */
export interface Warning {
  code: string;
  message: string;
}

/** What every resolver receives. Built per request by `createYoga`; resolvers never read globals. */
export interface GraphQLContext {
  completions: CompletionsService;
  models: ModelCatalog;
  /** Aborts when the client goes away: passed down to the upstream call. */
  signal: AbortSignal;
  /** Who is calling (the anonymous client when the service runs open). */
  client: Client;
  /** The client's own upstream key, in pass-through mode only. */
  upstreamApiKey: string | undefined;
  /** Stored completions by id, batched per request (federation `_entities` asks for many at once). */
  storedCompletion(id: string): Promise<Completion | null>;
  usage: UsageLedger | undefined;
  /** Fires when a shutdown's grace period ends: open streams end with SHUTTING_DOWN. */
  shutdown: AbortSignal;
  /** The request's id (x-request-id), sent to the upstream with each call. */
  requestId: string | undefined;
  /** Collected during execution, sent in the response's `extensions.warnings`. */
  warnings: Warning[];
  /** What each paid field used and cost, sent in the response's `extensions.usage`. */
  usageReport: (CallUsage & { field: string })[];
  /**
   * The operation's paid calls by response key, prepared and priced by the preflight before any
   * resolver runs. A paid resolver runs only what it finds here.
   */
  paidCalls?: ReadonlyMap<string, PreparedCompletion>;
  /** Template results reused across calls (PROMPTS_FILE cache policies); absent: none are. */
  promptCache?: PromptCache;
  /**
   * What the response's Cache-Control may say: the seconds every result in it stays valid, 'none'
   * once any field's result must not be reused; undefined while no template field ran.
   */
  cacheHint: number | 'none' | undefined;
  /** The operation's trace context (an OpenTelemetry Context) when tracing is on; opaque here. */
  trace?: unknown;
}
