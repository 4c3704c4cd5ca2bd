import type { CompletionStore } from '../storage/index.js';
import type { CallOptions, CompletionsProvider } from '../upstream/provider.js';
import type { WireCompletionRequest } from '../upstream/wire.js';
import { promptForms, toCompletion, toWireRequest } from './mapping.js';
import type { Completion, CompletionRequestInput } from './model.js';
import { StreamAssembly } from './stream-assembly.js';
import { assertValidRequest, InvalidRequestError } from './validation.js';

/** The completion use case: validate, call the provider, map, store. Knows nothing of HTTP or GraphQL. */

export interface CompletionResult {
  completion: Completion;
  /** The upstream's request id, surfaced to clients for support tickets. */
  requestId?: string;
}

/** Who calls and how: cancellation, the client's identity, a pass-through upstream key. */
export type CompletionCallOptions = CallOptions & {
  /** Told when `store: true` could not be honoured; the paid completion is returned regardless. */
  onStoreFailure?: (error: unknown) => void;
};

export interface CompletionsService {
  create(input: CompletionRequestInput, options?: CompletionCallOptions): Promise<CompletionResult>;
  stream(input: CompletionRequestInput, options?: CompletionCallOptions): AsyncIterable<Completion>;
}

/** Input -> checked wire request; throws `InvalidRequestError` before anything is paid for. */
export function prepareRequest(input: CompletionRequestInput, stream: boolean): WireCompletionRequest {
  if (promptForms(input.prompt).length !== 1) {
    throw new InvalidRequestError({
      param: 'prompt',
      problem: 'must set exactly one of text, texts, tokens, tokenBatches.',
    });
  }
  const wire = toWireRequest(input);
  if (stream) wire.stream = true;
  assertValidRequest(wire);
  return wire;
}

function callOptions(options: CompletionCallOptions): CallOptions {
  const { onStoreFailure: _ignored, ...call } = options;
  return call;
}

export function createCompletionsService(deps: {
  provider: CompletionsProvider;
  store?: CompletionStore;
}): CompletionsService {
  const { provider, store } = deps;

  async function save(completion: Completion, input: CompletionRequestInput, options: CompletionCallOptions) {
    if (input.store !== true) return;
    const storedAt = new Date();
    try {
      if (store === undefined) throw new Error('no completion store is configured');
      await store.save({ completion, request: input, clientName: options.client ?? null, storedAt });
      completion.storedAt = storedAt;
    } catch (error) {
      options.onStoreFailure?.(error);
    }
  }

  return {
    async create(input, options = {}) {
      const wire = prepareRequest(input, false);
      const { response, requestId } = await provider.complete(wire, callOptions(options));
      const completion = toCompletion(response);
      await save(completion, input, options);
      return requestId === undefined ? { completion } : { completion, requestId };
    },

    async *stream(input, options = {}) {
      const wire = prepareRequest(input, true);
      const assembly = input.store === true ? new StreamAssembly() : undefined;
      for await (const chunk of provider.stream(wire, callOptions(options))) {
        const event = toCompletion(chunk);
        assembly?.add(event);
        yield event;
      }
      // Only a stream that ran to its end is stored: a cut one is not the completion.
      const whole = assembly?.result();
      if (whole !== undefined) await save(whole, input, options);
    },
  };
}
