import { countTokens } from 'gpt-tokenizer/encoding/cl100k_base';
import type { CompletionRequestInput } from './model.js';

/**
 * What a completion can cost at most, in tokens, known before the call: the prompts as they are
 * plus the most the model may generate for them. Used to refuse an operation before execution and
 * to reserve a client's token budget before the paid call.
 */

/** The upstream's default when maxTokens is absent. */
export const defaultMaxTokens = 16;

/** Beyond this many characters a prompt is estimated instead of tokenised, to bound CPU per request. */
const exactCountLimit = 16_384;

/** Tokens of one text prompt: exact with the GPT tokenizer, or a deliberate over-estimate when huge. */
export function promptTextTokens(text: string): number {
  if (text.length <= exactCountLimit) return countTokens(text);
  // One token per two UTF-8 bytes overestimates English (about four characters a token) and
  // stays close for scripts with multi-byte characters: a budget errs on the safe side.
  return Math.ceil(Buffer.byteLength(text, 'utf8') / 2);
}

export interface CostEstimate {
  promptCount: number;
  promptTokens: number;
  /** maxTokens × max(n, bestOf) × prompts: everything the upstream may generate and bill. */
  maxCompletionTokens: number;
  totalTokens: number;
}

export function estimateCompletionCost(input: CompletionRequestInput): CostEstimate {
  const { prompt } = input;
  let promptCount = 1;
  let promptTokens = 0;
  if (prompt.text != null) promptTokens = promptTextTokens(prompt.text);
  else if (prompt.texts != null) {
    promptCount = prompt.texts.length;
    for (const text of prompt.texts) promptTokens += promptTextTokens(text);
  } else if (prompt.tokens != null) promptTokens = prompt.tokens.length;
  else if (prompt.tokenBatches != null) {
    promptCount = prompt.tokenBatches.length;
    for (const batch of prompt.tokenBatches) promptTokens += batch.length;
  }
  const candidates = Math.max(input.n ?? 1, input.bestOf ?? 1);
  const maxCompletionTokens = Math.max(0, input.maxTokens ?? defaultMaxTokens) * candidates * promptCount;
  return { promptCount, promptTokens, maxCompletionTokens, totalTokens: promptTokens + maxCompletionTokens };
}
