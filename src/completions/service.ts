import { anonymousClient } from '../auth/client-keys.js';
import { errorCodes } from '../errors.js';
import { CompletionIdConflictError, type CompletionStore } from '../storage/index.js';
import type { CallOptions, CompletionsProvider, ProviderCompletion } from '../upstream/provider.js';
import type { WireCompletionResponse } from '../upstream/wire.js';
import { type BudgetProblem, type ClientBudget, chargedUsage } from './client-limits.js';
import { toCompletion } from './mapping.js';
import type { Completion, CompletionRequestInput } from './model.js';
import type { PreparedCompletion } from './prepare.js';
import { costUsd, defaultPrices, type PriceTable } from './prices.js';
import { StreamAssembly } from './stream-assembly.js';

/**
 * The completion use case: run a prepared (checked and priced) call under the client's budget,
 * map it, store it. Knows nothing of HTTP or GraphQL; the GraphQL resolvers and the REST face
 * both come through here.
 */

export interface CompletionResult {
  completion: Completion;
  /** The upstream's request id, surfaced to clients for support tickets. */
  requestId?: string;
}

/** A note for the client that something secondary failed while its paid result is still returned. */
export interface ServiceWarning {
  code: string;
  message: string;
}

/** Who calls and how: cancellation, the client's identity, a pass-through upstream key. */
export type CompletionCallOptions = CallOptions & {
  /** Told when `store: true` could not be honoured; the paid completion is returned regardless. */
  onStoreFailure?: (error: unknown) => void;
  /** Told about anything else that went wrong after the paid call (settlement, implausible usage). */
  onWarning?: (warning: ServiceWarning) => void;
  /** Told what each call used and cost, once it ended (for `extensions.usage`). */
  onUsage?: (usage: CallUsage) => void;
};

/** What one paid call used, as reported in `extensions.usage`. */
export interface CallUsage {
  model: string;
  promptTokens: number;
  completionTokens: number;
  /** USD from the price table; null for a model without a price. */
  costUsd: number | null;
  upstreamRequestId?: string;
}

export interface CompletionsService {
  /** The paid call in the upstream's own shape, for the REST face. */
  complete(call: PreparedCompletion, options?: CompletionCallOptions): Promise<ProviderCompletion>;
  streamChunks(
    call: PreparedCompletion,
    options?: CompletionCallOptions,
  ): AsyncIterable<WireCompletionResponse>;
  /** The paid call mapped for GraphQL, and stored when the input asked for it. */
  create(call: PreparedCompletion, options?: CompletionCallOptions): Promise<CompletionResult>;
  stream(call: PreparedCompletion, options?: CompletionCallOptions): AsyncIterable<Completion>;
}

const budgetWarnings: Record<BudgetProblem, ServiceWarning> = {
  'settlement-failed': {
    code: errorCodes.usageNotSettled,
    message:
      "The completion was created and is returned; this client's usage could not be recorded in the rate limiter right now and will be reconciled.",
  },
  'usage-implausible': {
    code: errorCodes.upstreamUsageImplausible,
    message: 'The upstream reported usage that cannot be right; the estimate was charged instead.',
  },
};

function callOptions(options: CompletionCallOptions): CallOptions {
  const { onStoreFailure: _store, onWarning: _warning, onUsage: _usage, ...call } = options;
  return call;
}

export function createCompletionsService(deps: {
  provider: CompletionsProvider;
  budget: ClientBudget;
  store?: CompletionStore;
  prices?: PriceTable;
}): CompletionsService {
  const { provider, budget, store } = deps;
  const prices = deps.prices ?? defaultPrices;
  /** What the call was charged for, as the client budget counted it. */
  const report = (
    options: CompletionCallOptions,
    model: string,
    charged: { promptTokens: number; completionTokens: number },
    upstreamRequestId?: string,
  ) => {
    if (options.onUsage === undefined) return;
    const counts = { promptTokens: charged.promptTokens, completionTokens: charged.completionTokens };
    options.onUsage({
      model,
      ...counts,
      costUsd: costUsd(prices, model, counts),
      ...(upstreamRequestId === undefined ? {} : { upstreamRequestId }),
    });
  };
  const warn = (problems: BudgetProblem[], options: CompletionCallOptions) => {
    for (const problem of problems) options.onWarning?.(budgetWarnings[problem]);
  };

  async function save(
    completion: Completion,
    input: CompletionRequestInput | undefined,
    options: CompletionCallOptions,
  ) {
    if (input?.store !== true) return;
    const storedAt = new Date();
    try {
      if (store === undefined) throw new Error('no completion store is configured');
      const clientName = options.client ?? anonymousClient.name;
      const inserted = await store.save({ completion, request: input, clientName, storedAt });
      // This client already holds a record under this id (first write wins): the one returned now
      // is not it, so it must not claim to be stored.
      if (!inserted) throw new CompletionIdConflictError(completion.id);
      completion.storedAt = storedAt;
    } catch (error) {
      options.onStoreFailure?.(error);
    }
  }

  async function complete(call: PreparedCompletion, options: CompletionCallOptions = {}) {
    const charge = await budget.reserve(options.client ?? anonymousClient.name, call.estimate);
    let result: ProviderCompletion;
    try {
      result = await provider.complete(call.wire, callOptions(options));
    } catch (error) {
      await charge.fail(error, call.wire.model);
      throw error;
    }
    warn(await charge.settle(result.response.model, result.response.usage), options);
    report(
      options,
      result.response.model,
      chargedUsage(result.response.usage, call.estimate),
      result.requestId,
    );
    return result;
  }

  async function* streamChunks(
    call: PreparedCompletion,
    options: CompletionCallOptions = {},
  ): AsyncGenerator<WireCompletionResponse> {
    const charge = await budget.reserve(options.client ?? anonymousClient.name, call.estimate);
    let model = call.wire.model;
    let usage: WireCompletionResponse['usage'];
    // Without a usage chunk, each streamed piece is about one token of output.
    let pieces = 0;
    let failed = false;
    try {
      for await (const chunk of provider.stream(call.wire, callOptions(options))) {
        model = chunk.model;
        usage = chunk.usage ?? usage;
        pieces += chunk.choices.length;
        yield chunk;
      }
    } catch (error) {
      failed = true;
      await charge.fail(error, model, pieces);
      throw error;
    } finally {
      // Also when the consumer left early: what was generated so far is charged.
      if (!failed) {
        warn(await charge.settle(model, usage, pieces), options);
        report(options, model, chargedUsage(usage, call.estimate, pieces));
      }
    }
  }

  return {
    complete,
    streamChunks,

    async create(call, options = {}) {
      const { response, requestId } = await complete(call, options);
      const completion = toCompletion(response);
      await save(completion, call.input, options);
      return requestId === undefined ? { completion } : { completion, requestId };
    },

    async *stream(call, options = {}) {
      const assembly = call.input?.store === true ? new StreamAssembly() : undefined;
      for await (const chunk of streamChunks(call, options)) {
        const event = toCompletion(chunk);
        assembly?.add(event);
        yield event;
      }
      // Only a stream that ran to its end is stored: a cut one is not the completion.
      const whole = assembly?.result();
      if (whole !== undefined) await save(whole, call.input, options);
    },
  };
}
