import { countTokens } from 'gpt-tokenizer/encoding/cl100k_base';
import type { WireCompletionRequest } from '../upstream/wire.js';

/**
 * What a completion can cost at most, in tokens, known before the call: the prompts as they are
 * plus the most the model may generate for them. Used to refuse an operation before execution and
 * to reserve a client's token budget before the paid call.
 */

/** The upstream's default when maxTokens is absent. */
export const defaultMaxTokens = 16;

/** Beyond this many characters a prompt is estimated instead of tokenised, to bound CPU per request. */
const exactCountLimit = 16_384;

/**
 * Recent exact counts: a request is priced twice (the operation's preflight, then the client's
 * budget), and clients repeat prompts. Bounded, oldest out first.
 */
const recentCounts = new Map<string, number>();
const recentCountsLimit = 512;

function cachedCount(text: string): number {
  let count = recentCounts.get(text);
  if (count === undefined) {
    count = countTokens(text);
    if (recentCounts.size >= recentCountsLimit) {
      const oldest = recentCounts.keys().next();
      if (!oldest.done) recentCounts.delete(oldest.value);
    }
    recentCounts.set(text, count);
  }
  return count;
}

/** Tokens of one text prompt: exact with the GPT tokenizer, or a deliberate over-estimate when huge. */
export function promptTextTokens(text: string): number {
  if (text.length <= exactCountLimit) return cachedCount(text);
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

/** Works on the wire request, so the GraphQL API and the REST face price a call the same way. */
export function estimateCompletionCost(request: WireCompletionRequest): CostEstimate {
  const { prompt } = request;
  let promptCount = 1;
  let promptTokens = 0;
  if (typeof prompt === 'string') promptTokens = promptTextTokens(prompt);
  else if (prompt.length > 0 && Array.isArray(prompt[0])) {
    const batches = prompt as number[][];
    promptCount = batches.length;
    for (const batch of batches) promptTokens += batch.length;
  } else if (prompt.length > 0 && typeof prompt[0] === 'string') {
    const texts = prompt as string[];
    promptCount = texts.length;
    for (const text of texts) promptTokens += promptTextTokens(text);
  } else promptTokens = prompt.length;
  const candidates = Math.max(request.n ?? 1, request.best_of ?? 1);
  const maxCompletionTokens = Math.max(0, request.max_tokens ?? defaultMaxTokens) * candidates * promptCount;
  return { promptCount, promptTokens, maxCompletionTokens, totalTokens: promptTokens + maxCompletionTokens };
}
