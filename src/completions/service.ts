import { anonymousClient } from '../auth/client-keys.js';
import { errorCodes } from '../error-codes.js';
import { extended } from '../runtime/objects.js';
import type { CallOptions, CompletionsProvider, ProviderCompletion, ServedBy } from '../upstream/provider.js';
import type { WireCompletionResponse } from '../upstream/wire.js';
import { PromptCounter } from './cost.js';
import { toCompletion } from './mapping.js';
import type { Completion, CompletionRequestInput } from './model.js';
import {
  type BudgetProblem,
  type ClientBudget,
  CompletionIdConflictError,
  type CompletionStore,
  type Settlement,
} from './ports.js';
import type { PreparedCompletion } from './prepare.js';
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
  /** The operation's trace, opaque here: the call observer parents the call's span on it. */
  trace?: unknown;
};

/**
 * Watches each paid call (metrics, traces). The telemetry layer implements it; the service only
 * says when a call starts, streams, and ends.
 */
export interface CallObserver {
  /** A client limit refused the call before it went out. */
  refused(error: unknown): void;
  /** `store: true` could not be honoured (the completion is returned regardless). */
  storeFailed(error: unknown): void;
  start(call: PreparedCompletion, info: { stream: boolean; client: string; trace: unknown }): CallWatch;
}

export interface CallWatch {
  /** Added to the provider's options: trace headers for the upstream, a hook per HTTP attempt. */
  readonly callOptions: Pick<CallOptions, 'traceHeaders' | 'onAttempt'>;
  chunk(chunk: WireCompletionResponse): void;
  succeeded(usage: CallUsage, response?: WireCompletionResponse): void;
  failed(error: unknown): void;
}

/** What one paid call used, as reported in `extensions.usage`. */
export interface CallUsage {
  model: string;
  promptTokens: number;
  completionTokens: number;
  /** USD from the price table; null for a model without a price. */
  costUsd: number | null;
  upstreamRequestId?: string;
  /** The deployment that served it (UPSTREAMS_FILE); the call's `model` stays the public name. */
  deployment?: string;
  /** Template results reused from the cache (no call, no tokens, no cost) this entry stands for. */
  cachedResults?: number;
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
  'soft-budget-exceeded': {
    code: errorCodes.budgetSoftExceeded,
    message: 'This client key has passed a soft spend budget; calls still go through.',
  },
};

function callOptions(
  options: CompletionCallOptions,
  watch: CallWatch | undefined,
  call: PreparedCompletion,
  onServed: (served: ServedBy) => void,
): CallOptions {
  // Field by field: an object rest that leaves keys out took V8's slow path (~6 µs a call).
  const provider: CallOptions = { estimatedTokens: call.estimate.totalTokens, onServed };
  if (options.signal !== undefined) provider.signal = options.signal;
  if (options.client !== undefined) provider.client = options.client;
  if (options.apiKey !== undefined) provider.apiKey = options.apiKey;
  if (options.requestId !== undefined) provider.requestId = options.requestId;
  const traceHeaders = watch?.callOptions.traceHeaders ?? options.traceHeaders;
  if (traceHeaders !== undefined) provider.traceHeaders = traceHeaders;
  const onAttempt = watch?.callOptions.onAttempt ?? options.onAttempt;
  if (onAttempt !== undefined) provider.onAttempt = onAttempt;
  return provider;
}

/** Every option the provider takes, so that a new one is not left behind by callOptions above. */
const _providerOptions = {
  signal: true,
  client: true,
  apiKey: true,
  requestId: true,
  traceHeaders: true,
  onAttempt: true,
  estimatedTokens: true,
  onServed: true,
} satisfies Record<keyof CallOptions, true>;

export function createCompletionsService(deps: {
  provider: CompletionsProvider;
  budget: ClientBudget;
  store?: CompletionStore;
  observer?: CallObserver;
}): CompletionsService {
  const { provider, budget, store, observer } = deps;
  /** What the call was charged for, as the client budget counted and priced it, told to whoever listens. */
  const report = (
    options: CompletionCallOptions,
    watch: CallWatch | undefined,
    model: string,
    settlement: Settlement,
    upstream: { requestId?: string | undefined; response?: WireCompletionResponse; servedBy?: ServedBy },
  ) => {
    warn(settlement.problems, options);
    if (options.onUsage === undefined && watch === undefined) return;
    const usage: CallUsage = {
      model,
      promptTokens: settlement.promptTokens,
      completionTokens: settlement.completionTokens,
      costUsd: settlement.costUsd,
      ...(upstream.requestId === undefined ? {} : { upstreamRequestId: upstream.requestId }),
      ...(upstream.servedBy === undefined ? {} : { deployment: upstream.servedBy.deployment }),
    };
    options.onUsage?.(usage);
    watch?.succeeded(usage, upstream.response);
  };
  const reserve = async (call: PreparedCompletion, options: CompletionCallOptions) => {
    try {
      return await budget.reserve(options.client ?? anonymousClient.name, call.estimate, call.wire.model);
    } catch (error) {
      observer?.refused(error);
      throw error;
    }
  };
  const watchCall = (call: PreparedCompletion, options: CompletionCallOptions, stream: boolean) =>
    observer?.start(call, { stream, client: options.client ?? anonymousClient.name, trace: options.trace });
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
      observer?.storeFailed(error);
      options.onStoreFailure?.(error);
    }
  }

  async function complete(call: PreparedCompletion, options: CompletionCallOptions = {}) {
    const charge = await reserve(call, options);
    const watch = watchCall(call, options, false);
    let result: ProviderCompletion;
    let servedBy: ServedBy | undefined;
    try {
      const served = (by: ServedBy) => {
        servedBy = by;
      };
      result = await provider.complete(call.wire, callOptions(options, watch, call, served));
    } catch (error) {
      watch?.failed(error);
      await charge.fail(error, call.wire.model);
      throw error;
    }
    const { response, requestId } = result;
    report(options, watch, response.model, await charge.settle(response.model, response.usage), {
      requestId,
      response,
      ...(servedBy === undefined ? {} : { servedBy }),
    });
    return result;
  }

  /**
   * Usage is settled and reported before the stream's last event goes out, so that the event can
   * carry it (`extensions.usage`): the upstream's usage chunk is last when there is one; otherwise
   * a chunk that finishes a choice is held until the next chunk or the end shows whether it is.
   */
  async function* streamChunks(
    call: PreparedCompletion,
    options: CompletionCallOptions = {},
  ): AsyncGenerator<WireCompletionResponse> {
    const charge = await reserve(call, options);
    const watch = watchCall(call, options, true);
    let model = call.wire.model;
    let usage: WireCompletionResponse['usage'];
    // Without a usage chunk, each streamed piece is about one token of output.
    let pieces = 0;
    let failed = false;
    let settled = false;
    let held: WireCompletionResponse | undefined;
    let servedBy: ServedBy | undefined;
    const served = (by: ServedBy) => {
      servedBy = by;
    };
    // Every stream asks the upstream for its usage, so what it is charged is counted, not guessed
    // (without a usage chunk, each piece counts as a token).
    const askedUsage = call.wire.stream_options?.include_usage === true;
    const wire = askedUsage
      ? call.wire
      : extended(call.wire, { stream_options: extended(call.wire.stream_options, { include_usage: true }) });
    // Without the upstream's usage (a cut stream, a server that sends none), what arrived is
    // counted with the estimate's tokenizer: a chunk may carry many tokens. At least one a piece.
    let delivered = '';
    const arrived = () => Math.max(pieces, new PromptCounter().count(delivered));
    const settle = async () => {
      settled = true;
      const settlement = await charge.settle(model, usage, usage == null ? arrived() : pieces);
      report(options, watch, model, settlement, servedBy ? { servedBy } : {});
    };
    try {
      for await (const chunk of provider.stream(wire, callOptions(options, watch, call, served))) {
        watch?.chunk(chunk);
        model = chunk.model;
        usage = chunk.usage ?? usage;
        pieces += chunk.choices.length;
        for (const choice of chunk.choices) delivered += choice.text ?? '';
        if (!askedUsage && chunk.usage != null && chunk.choices.length === 0) {
          // Asked for the budget's sake only: settled, and not shown to a caller that did not ask.
          await settle();
          continue;
        }
        if (held !== undefined) {
          const previous = held;
          held = undefined;
          yield previous;
        }
        if (chunk.usage != null && chunk.choices.length === 0) await settle();
        else if (chunk.choices.some((choice) => choice.finish_reason != null)) {
          held = chunk;
          continue;
        }
        yield chunk;
      }
      if (!settled) await settle();
      if (held !== undefined) yield held;
    } catch (error) {
      failed = true;
      // A failure after the usage was settled (a broken [DONE]) is not charged twice.
      if (!settled) {
        watch?.failed(error);
        await charge.fail(error, model, arrived());
      }
      // What arrived before the failure is delivered, then the failure.
      if (held !== undefined) yield held;
      throw error;
    } finally {
      // Also when the consumer left early: what was generated so far is charged.
      if (!failed && !settled) await settle();
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
