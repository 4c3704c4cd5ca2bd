import type { CompletionsProvider } from '../upstream/provider.js';
import type { WireCompletionRequest } from '../upstream/wire.js';
import { promptForms, toCompletion, toWireRequest } from './mapping.js';
import type { Completion, CompletionRequestInput } from './model.js';
import { assertValidRequest, InvalidRequestError } from './validation.js';

/** The completion use case: validate, call the provider, map. Knows nothing of HTTP or GraphQL. */

export interface CompletionResult {
  completion: Completion;
  /** The upstream's request id, surfaced to clients for support tickets. */
  requestId?: string;
}

export interface CompletionsService {
  create(input: CompletionRequestInput, options?: { signal?: AbortSignal }): Promise<CompletionResult>;
  stream(input: CompletionRequestInput, options?: { signal?: AbortSignal }): AsyncIterable<Completion>;
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

export function createCompletionsService(deps: { provider: CompletionsProvider }): CompletionsService {
  const { provider } = deps;
  return {
    async create(input, options = {}) {
      const wire = prepareRequest(input, false);
      const { response, requestId } = await provider.complete(wire, options);
      const completion = toCompletion(response);
      return requestId === undefined ? { completion } : { completion, requestId };
    },

    async *stream(input, options = {}) {
      const wire = prepareRequest(input, true);
      for await (const chunk of provider.stream(wire, options)) yield toCompletion(chunk);
    },
  };
}
