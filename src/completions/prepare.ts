import { extended } from '../runtime/objects.js';
import type { WireCompletionRequest } from '../upstream/wire.js';
import { type CostEstimate, estimateCompletionCost, PromptCounter } from './cost.js';
import { promptForms, toWireRequest } from './mapping.js';
import type { CompletionRequestInput } from './model.js';
import { assertValidRequest, InvalidRequestError } from './validation.js';

/**
 * A paid call made ready once, before anything runs: the checked wire request exactly as it will
 * go upstream and its price. The GraphQL preflight and the REST face build these; the service runs
 * them as they are, so what was priced is what is called.
 */

export interface PreparedCompletion {
  wire: WireCompletionRequest;
  estimate: CostEstimate;
  /** The GraphQL input, kept with a stored completion; absent on the REST face. */
  input?: CompletionRequestInput;
}

export interface PrepareSettings {
  /**
   * Sent as `max_tokens` when the caller sets none, so that the price and the call agree: OpenAI
   * defaults to 16, but llama.cpp and Ollama generate without bound.
   */
  defaultMaxTokens: number;
}

export const defaultPrepareSettings: PrepareSettings = { defaultMaxTokens: 16 };

function finish(wire: WireCompletionRequest, settings: PrepareSettings): WireCompletionRequest {
  wire.max_tokens ??= settings.defaultMaxTokens;
  assertValidRequest(wire);
  return wire;
}

/** GraphQL input → checked, priced call; throws `InvalidRequestError` before anything is paid for. */
export function prepareFromInput(
  input: CompletionRequestInput,
  stream: boolean,
  settings: PrepareSettings = defaultPrepareSettings,
  counter: PromptCounter = new PromptCounter(),
): PreparedCompletion {
  if (promptForms(input.prompt).length !== 1) {
    throw new InvalidRequestError({
      param: 'prompt',
      problem: 'must set exactly one of text, texts, tokens, tokenBatches.',
    });
  }
  const wire = toWireRequest(input);
  if (stream) wire.stream = true;
  finish(wire, settings);
  return { wire, estimate: estimateCompletionCost(wire, counter), input };
}

/** A REST body (already shape-checked) → checked, priced call. */
export function prepareFromWire(
  request: WireCompletionRequest,
  settings: PrepareSettings = defaultPrepareSettings,
): PreparedCompletion {
  const counter = new PromptCounter();
  // A copy, not a spread: a spread's copy given max_tokens afterwards would get a hidden class of its
  // own (see src/runtime/objects.ts).
  const wire = finish(extended(request, {}), settings);
  return { wire, estimate: estimateCompletionCost(wire, counter) };
}
