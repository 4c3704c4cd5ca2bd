import type { CostEstimate } from '../completions/cost.js';
import { PendingWrites } from '../completions/pending-writes.js';
import type { BudgetProblem, ClientBudget, UsageLedger } from '../completions/ports.js';
import {
  UpstreamCallerKeyError,
  UpstreamConfigurationError,
  UpstreamRateLimitError,
  UpstreamRequestError,
  UpstreamUnavailableError,
} from '../upstream/errors.js';
import type { WireUsage } from '../upstream/wire.js';
import type { LimitPolicy, RateLimiter, Reservation } from './index.js';
import type { SpendBudgets, SpendHold } from './spend-budget.js';

/**
 * Per-client request and token budgets, for the GraphQL API and the REST face alike: a reservation
 * from the call's price before the paid call, settled with the real usage after it (or given back
 * when the upstream surely billed nothing), and a usage ledger entry for every billed call, failed
 * ones included. Once the upstream may have billed, nothing here fails the caller's response: a
 * settlement or ledger write that fails is retried in the background and logged for reconciliation.
 */

export class ClientRateLimitError extends Error {
  constructor(
    readonly limit: 'requests' | 'tokens',
    readonly retryAfterSeconds: number,
    readonly limitValue: number,
  ) {
    super(
      limit === 'requests'
        ? `Too many requests: this client may make ${limitValue} per minute. Retry in ${retryAfterSeconds} s.`
        : `Token budget exhausted: this client may use ${limitValue} tokens per minute. Retry in ${retryAfterSeconds} s.`,
    );
    this.name = 'ClientRateLimitError';
  }
}

export interface ClientBudgetDeps {
  limiter: RateLimiter;
  policy: LimitPolicy;
  ledger?: UsageLedger;
  /** USD of a call's tokens on a model, null when the model has no price: recorded in the ledger. */
  price?: (model: string, tokens: { promptTokens: number; completionTokens: number }) => number | null;
  /** Per-key spend budgets and allowed models (CLIENT_KEYS attributes). */
  spend?: SpendBudgets;
  /** A soft spend budget passed: the call went through; told for a log line. */
  onSoftBudget?: (details: Record<string, unknown>) => void;
  /** Failures after the paid call, with what is needed to reconcile them by hand. */
  onError?: (message: string, details: Record<string, unknown>) => void;
  /** Background retries of a failed settlement: attempts and the pause before each. */
  settleRetries?: { attempts: number; delayMs: number };
}

/** Errors after which the upstream surely billed nothing: the reservation is given back. */
function billedNothing(error: unknown): boolean {
  return (
    error instanceof UpstreamRequestError ||
    error instanceof UpstreamRateLimitError ||
    error instanceof UpstreamConfigurationError ||
    error instanceof UpstreamCallerKeyError ||
    (error instanceof UpstreamUnavailableError &&
      error.status === undefined &&
      error.upstreamCode === 'circuit_open')
  );
}

/** Far beyond any real completion: a count above it (or negative, or fractional) is not believed. */
const implausibleTokens = 100_000_000;

function plausible(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= implausibleTokens;
}

/**
 * The tokens a call is charged for: the upstream's usage when it is believable, else the price's
 * prompt tokens and, for completions, what a stream counted or the price's maximum.
 */
export function chargedUsage(
  usage: WireUsage | null | undefined,
  estimate: CostEstimate,
  fallbackCompletionTokens?: number,
): { promptTokens: number; completionTokens: number; believed: boolean } {
  if (usage !== null && usage !== undefined) {
    if (plausible(usage.prompt_tokens) && plausible(usage.completion_tokens)) {
      return { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens, believed: true };
    }
    return {
      promptTokens: estimate.promptTokens,
      completionTokens: estimate.maxCompletionTokens,
      believed: false,
    };
  }
  return {
    promptTokens: estimate.promptTokens,
    completionTokens: fallbackCompletionTokens ?? estimate.maxCompletionTokens,
    believed: true,
  };
}

export function createClientBudget(deps: ClientBudgetDeps): ClientBudget {
  const { limiter, policy } = deps;
  const pending = new PendingWrites();
  const retries = deps.settleRetries ?? { attempts: 3, delayMs: 1_000 };
  const report = (message: string, details: Record<string, unknown>) => deps.onError?.(message, details);

  const priceOf = (model: string, tokens: { promptTokens: number; completionTokens: number }) =>
    deps.price?.(model, tokens) ?? null;

  function record(
    client: string,
    model: string,
    promptTokens: number,
    completionTokens: number,
    cost: number | null,
  ) {
    const ledger = deps.ledger;
    if (ledger === undefined) return;
    const priced = cost === null ? { unpricedRequests: 1 } : { costUsd: cost };
    pending.track(
      ledger
        .record({ clientName: client, model, promptTokens, completionTokens, ...priced })
        .catch((error: unknown) =>
          report('usage ledger write failed; reconcile from this line', {
            err: error,
            client,
            model,
            promptTokens,
            completionTokens,
          }),
        ),
    );
  }

  /** Settles now; on failure keeps trying in the background and says so once. */
  async function settle(reservation: Reservation, tokens: number, client: string): Promise<boolean> {
    try {
      await reservation.settle(tokens);
      return true;
    } catch (error) {
      pending.track(
        (async () => {
          for (let attempt = 1; attempt <= retries.attempts; attempt++) {
            await pending.pause(retries.delayMs);
            try {
              await reservation.settle(tokens);
              return;
            } catch {
              // tried again below, or reported
            }
          }
          report('rate-limit settlement failed; reconcile from this line', { err: error, client, tokens });
        })(),
      );
      return false;
    }
  }

  return {
    pending,
    async reserve(client, estimate, requestedModel) {
      const result = await limiter.reserve(client, estimate.totalTokens, policy);
      if (!result.ok)
        throw new ClientRateLimitError(result.limit, result.retryAfterSeconds, result.limitValue);
      const { reservation } = result;
      let hold: SpendHold | undefined;
      try {
        hold =
          requestedModel === undefined
            ? undefined
            : await deps.spend?.reserve(client, requestedModel, estimate);
      } catch (error) {
        // Refused by a budget (or its store is down): the call never happens.
        await reservation.release().catch(() => undefined);
        throw error;
      }
      // Priced as the model asked for (what was reserved), whatever name the upstream answers with:
      // an alias or a deployment's own name may be priced higher, lower or not at all (an unpriced
      // answer made calls free). Only a dated snapshot of the model asked for (`<asked>:<date>`)
      // is priced as itself when the table has it.
      const costOf = (served: string, tokens: { promptTokens: number; completionTokens: number }) => {
        if (requestedModel === undefined) return priceOf(served, tokens);
        const snapshot = served.startsWith(`${requestedModel}:`) ? priceOf(served, tokens) : null;
        return snapshot ?? priceOf(requestedModel, tokens);
      };
      /** The spend budgets' share of settling; a store failure is reported, never thrown. */
      const settleSpend = async (
        model: string,
        tokens: { promptTokens: number; completionTokens: number },
        cost: number | null,
      ) => {
        if (hold === undefined) return [];
        try {
          const passed = await hold.settle(model, tokens, cost);
          for (const soft of passed) {
            deps.onSoftBudget?.({
              client,
              budget: soft.budget.label,
              spent: soft.spent,
              resetAt: soft.resetAt,
            });
          }
          return passed.length > 0 ? (['soft-budget-exceeded'] as const) : [];
        } catch (error) {
          report('spend budget settlement failed; reconcile from this line', {
            err: error,
            client,
            model,
            ...tokens,
          });
          return ['settlement-failed'] as const;
        }
      };
      return {
        async settle(model, usage, fallbackCompletionTokens) {
          const problems: BudgetProblem[] = [];
          const { promptTokens, completionTokens, believed } = chargedUsage(
            usage,
            estimate,
            fallbackCompletionTokens,
          );
          if (!believed) {
            // A broken or hostile upstream must not refund a budget or poison the ledger.
            problems.push('usage-implausible');
            report('implausible usage from the upstream; the estimate was charged', { client, model, usage });
          }
          if (!(await settle(reservation, promptTokens + completionTokens, client))) {
            problems.push('settlement-failed');
          }
          const tokens = { promptTokens, completionTokens };
          const costUsd = costOf(model, tokens);
          // No budgets on this key: nothing to await (a settle runs on every call).
          for (const problem of hold === undefined ? [] : await settleSpend(model, tokens, costUsd)) {
            if (!problems.includes(problem)) problems.push(problem);
          }
          record(client, model, promptTokens, completionTokens, costUsd);
          return { problems, promptTokens, completionTokens, costUsd };
        },
        async fail(error, model, completionTokensSoFar) {
          // A stream that delivered text and then failed was billed for that text, whatever the error.
          if (billedNothing(error) && !((completionTokensSoFar ?? 0) > 0)) {
            await reservation
              .release()
              .catch((releaseError: unknown) =>
                report('rate-limit release failed', { err: releaseError, client }),
              );
            await hold
              ?.release()
              .catch((releaseError: unknown) =>
                report('spend budget release failed', { err: releaseError, client }),
              );
            return;
          }
          // The upstream may have billed: the whole estimate stays charged unless a stream told us
          // how far it got, and the call is in the ledger.
          const completionTokens = completionTokensSoFar ?? estimate.maxCompletionTokens;
          await settle(reservation, estimate.promptTokens + completionTokens, client);
          const tokens = { promptTokens: estimate.promptTokens, completionTokens };
          const costUsd = costOf(model, tokens);
          await settleSpend(model, tokens, costUsd);
          record(client, model, estimate.promptTokens, completionTokens, costUsd);
        },
      };
    },
  };
}
