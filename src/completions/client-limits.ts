import type { LimitPolicy, RateLimiter, Reservation } from '../limits/index.js';
import type { UsageLedger } from '../storage/index.js';
import {
  UpstreamConfigurationError,
  UpstreamRateLimitError,
  UpstreamRequestError,
  UpstreamUnavailableError,
} from '../upstream/errors.js';
import type { CallOptions, CompletionsProvider } from '../upstream/provider.js';
import type { WireCompletionRequest, WireCompletionResponse, WireUsage } from '../upstream/wire.js';
import { estimateCompletionCost } from './cost.js';

/**
 * Per-client request and token budgets around a provider, for the GraphQL API and the REST face
 * alike: a reservation from the cost estimate before the paid call, settled with the real usage
 * after it (or given back when the upstream surely billed nothing), and a usage ledger entry.
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

export interface ClientLimitsDeps {
  provider: CompletionsProvider;
  limiter: RateLimiter;
  policy: LimitPolicy;
  ledger?: UsageLedger;
  /** Where failures to record usage go; they never fail the paid response. */
  onLedgerError?: (error: unknown) => void;
}

/** Errors after which the upstream surely billed nothing: the reservation is given back. */
function billedNothing(error: unknown): boolean {
  return (
    error instanceof UpstreamRequestError ||
    error instanceof UpstreamRateLimitError ||
    error instanceof UpstreamConfigurationError ||
    (error instanceof UpstreamUnavailableError &&
      error.status === undefined &&
      error.upstreamCode === 'circuit_open')
  );
}

export function withClientLimits(deps: ClientLimitsDeps): CompletionsProvider {
  const { provider, limiter, policy } = deps;

  async function reserve(request: WireCompletionRequest, client: string) {
    const estimate = estimateCompletionCost(request);
    const result = await limiter.reserve(client, estimate.totalTokens, policy);
    if (!result.ok) throw new ClientRateLimitError(result.limit, result.retryAfterSeconds, result.limitValue);
    return { reservation: result.reservation, estimate };
  }

  function record(
    client: string,
    model: string,
    usage: { prompt_tokens: number; completion_tokens: number },
  ) {
    deps.ledger
      ?.record({
        clientName: client,
        model,
        promptTokens: usage.prompt_tokens,
        completionTokens: usage.completion_tokens,
      })
      .catch((error: unknown) => deps.onLedgerError?.(error));
  }

  async function settleAfterFailure(reservation: Reservation, error: unknown, estimatedTokens: number) {
    if (billedNothing(error)) await reservation.release();
    else await reservation.settle(estimatedTokens);
  }

  return {
    name: provider.name,
    listModels: (options) => provider.listModels(options),

    async complete(request, options: CallOptions = {}) {
      const client = options.client ?? 'anonymous';
      const { reservation, estimate } = await reserve(request, client);
      try {
        const result = await provider.complete(request, options);
        const usage = result.response.usage;
        await reservation.settle(usage?.total_tokens ?? estimate.totalTokens);
        if (usage) record(client, result.response.model, usage);
        return result;
      } catch (error) {
        await settleAfterFailure(reservation, error, estimate.totalTokens);
        throw error;
      }
    },

    async *stream(request, options: CallOptions = {}): AsyncGenerator<WireCompletionResponse> {
      const client = options.client ?? 'anonymous';
      const { reservation, estimate } = await reserve(request, client);
      let usage: WireUsage | null | undefined;
      let model = request.model;
      let pieces = 0;
      let failed = false;
      try {
        for await (const chunk of provider.stream(request, options)) {
          model = chunk.model;
          usage = chunk.usage ?? usage;
          pieces += chunk.choices.length;
          yield chunk;
        }
      } catch (error) {
        failed = true;
        await settleAfterFailure(reservation, error, estimate.totalTokens);
        throw error;
      } finally {
        if (!failed) {
          // Without a usage chunk, each streamed piece is about one token of output.
          const spent = usage ?? {
            prompt_tokens: estimate.promptTokens,
            completion_tokens: pieces,
            total_tokens: 0,
          };
          await reservation.settle(spent.prompt_tokens + spent.completion_tokens);
          record(client, model, spent);
        }
      }
    },
  };
}
