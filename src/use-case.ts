import type { Logger } from 'pino';
import type { ClientAuthenticator } from './auth/client-keys.js';
import { createModelCatalog, type ModelCatalog } from './completions/model-catalog.js';
import type { ClientBudget } from './completions/ports.js';
import { costUsd, defaultPrices, type PriceTable } from './completions/prices.js';
import { type CompletionsService, createCompletionsService } from './completions/service.js';
import { configDefaults } from './config.js';
import type { GraphQLContext } from './context.js';
import { createClientBudget } from './limits/client-budget.js';
import {
  createMemoryRateLimiter,
  createMemorySpendStore,
  type LimitPolicy,
  type RateLimiter,
} from './limits/index.js';
import { createSpendBudgets } from './limits/spend-budget.js';
import { type Caller, createContextFactory } from './request-context.js';
import { isRouter, type Router } from './routing/router.js';
import { type BatchedLedger, createBatchedLedger, type Storage } from './storage/index.js';
import { createCallObserver } from './telemetry/call-observer.js';
import { createMetrics, type Metrics } from './telemetry/metrics.js';
import type { Tracing } from './telemetry/tracing.js';
import { createMemoryPromptCache, type PromptCacheStore } from './templates/cache-store.js';
import { PromptCache } from './templates/result-cache.js';
import {
  CircuitBreaker,
  type CircuitBreakerOptions,
  withCircuitBreaker,
} from './upstream/circuit-breaker.js';
import type { CompletionsProvider } from './upstream/provider.js';

/**
 * The use case, assembled once per app: the provider behind its circuit breaker (or the router's
 * own, one per deployment), client budgets and spend budgets, the batched usage ledger, the
 * completions service and its observer, the model catalogue, and the GraphQL context factory.
 * app.ts puts the HTTP server and the transports around it.
 */

export interface UseCaseDeps {
  provider: CompletionsProvider;
  logger: Logger;
  upstreamKeyPassthrough?: boolean;
  /** Stored completions and the usage ledger; without it `store: true` only warns. */
  storage?: Storage;
  /** Shared (Redis) or per-process limits; in memory by default. */
  limiter?: RateLimiter;
  rateLimit?: LimitPolicy;
  breaker?: Partial<CircuitBreakerOptions>;
  /** USD per million tokens by model; the built-in table of OpenAI completion models by default. */
  prices?: PriceTable;
  /** Prometheus metrics; a fresh registry when not given. */
  metrics?: Metrics;
  /** Traces over OTLP/HTTP; off when not given. */
  tracing?: Tracing;
  /**
   * Where template results are reused from (PROMPT_CACHE_STORE): false turns reuse off; by default
   * the storage's database, or this process's memory without one.
   */
  promptCache?: PromptCacheStore | false;
}

export interface UseCase {
  /** The app's breaker (one upstream); a router keeps its own per deployment. */
  breaker: CircuitBreaker;
  router: Router | undefined;
  /** The provider every call goes through: behind the breaker, or the router. */
  guarded: CompletionsProvider;
  limiter: RateLimiter;
  metrics: Metrics;
  ledger: BatchedLedger | undefined;
  budget: ClientBudget;
  completions: CompletionsService;
  models: ModelCatalog;
  promptCache: PromptCache | undefined;
  createContext: (caller: Caller) => GraphQLContext;
}

export function assembleUseCase(
  deps: UseCaseDeps,
  authenticator: ClientAuthenticator,
  shutdown: AbortSignal,
): UseCase {
  const breaker = new CircuitBreaker(deps.breaker);
  const limiter = deps.limiter ?? createMemoryRateLimiter();
  // Several deployments: the router keeps a breaker per deployment; one upstream: the app's breaker.
  const router = isRouter(deps.provider) ? deps.provider : undefined;
  const guarded = router ?? withCircuitBreaker(deps.provider, breaker);
  const metrics = deps.metrics ?? createMetrics();
  // A breaker series per deployment behind a router; the app's own breaker otherwise.
  if (router === undefined) metrics.watchBreaker(deps.provider.name, () => breaker.state);
  else for (const d of router.routing.deployments()) metrics.watchBreaker(d.name, () => d.breaker.state);
  const reportAfterPayment = (message: string, details: Record<string, unknown>) => {
    metrics.writeFailure('ledger');
    deps.logger.error(details, message);
  };
  // One price function: the budget prices each call once, for the ledger, spend budgets and the report.
  const price = (model: string, tokens: { promptTokens: number; completionTokens: number }) =>
    costUsd(deps.prices ?? defaultPrices, model, tokens);
  // Usage is summed in memory and written in batches, off the request path.
  const ledger = deps.storage && createBatchedLedger(deps.storage.usage, { onError: reportAfterPayment });
  // Client budgets outside the breaker: a call the open circuit refuses gives its reservation back.
  const budget = createClientBudget({
    limiter,
    policy: deps.rateLimit ?? configDefaults.rateLimit,
    ...(ledger ? { ledger } : {}),
    price,
    // Keys' spend budgets count in the limiter's store: Redis shares them across instances.
    spend: createSpendBudgets({
      store: limiter.spend ?? createMemorySpendStore(),
      policyOf: (client) => authenticator.policyOf(client),
      price,
    }),
    onSoftBudget: (details) => deps.logger.warn(details, 'soft spend budget passed'),
    onError: reportAfterPayment,
  });
  const completions = createCompletionsService({
    provider: guarded,
    budget,
    observer: createCallObserver({
      metrics,
      providerName: deps.provider.name,
      ...(deps.tracing === undefined ? {} : { tracing: deps.tracing }),
    }),
    ...(deps.storage ? { store: deps.storage.completions } : {}),
  });
  const models = createModelCatalog({
    provider: guarded,
    ...(router ? { routing: router.routing } : { breakerState: () => breaker.state }),
    allowedModels: (client) => authenticator.policyOf(client)?.models,
  });
  const promptStore =
    deps.promptCache === false
      ? undefined
      : (deps.promptCache ?? deps.storage?.promptCache ?? createMemoryPromptCache());
  const promptCache =
    promptStore &&
    new PromptCache({
      store: promptStore,
      onStoreError: (operation, error) => {
        if (operation === 'write') metrics.writeFailure('prompt_cache');
        deps.logger.warn({ err: error, operation }, 'prompt cache store failed; served as a miss');
      },
      onCounted: (template, hits, misses) => metrics.promptCache(template, hits, misses),
      modelAllowed: (client, model) => authenticator.policyOf(client)?.models?.has(model) ?? true,
    });
  const createContext = createContextFactory({
    completions,
    models,
    upstreamKeyPassthrough: deps.upstreamKeyPassthrough ?? false,
    shutdown,
    ...(deps.storage ? { store: deps.storage.completions } : {}),
    ...(ledger ? { usage: ledger } : {}),
    ...(promptCache ? { promptCache } : {}),
  });
  return {
    breaker,
    router,
    guarded,
    limiter,
    metrics,
    ledger,
    budget,
    completions,
    models,
    promptCache,
    createContext,
  };
}
