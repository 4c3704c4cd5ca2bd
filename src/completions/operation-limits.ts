import type { PreparedCompletion } from './prepare.js';

/**
 * The per-operation ceilings, checked on the prepared calls of one operation (a GraphQL operation,
 * or one REST request) before any of them starts.
 */

export interface OperationCeilings {
  /** Paid calls allowed in one operation. */
  maxCompletions: number;
  /** Estimated tokens (prompts + the most that may be generated) allowed in one operation. */
  maxEstimatedTokens: number;
}

export class TooManyCompletionsError extends Error {
  constructor(
    readonly completionFields: number,
    readonly maxCompletions: number,
  ) {
    super(
      `This operation asks for ${completionFields} completions; at most ${maxCompletions} may run in one operation.`,
    );
    this.name = 'TooManyCompletionsError';
  }
}

export class CostLimitError extends Error {
  constructor(
    readonly estimatedTokens: number,
    readonly maxEstimatedTokens: number,
    readonly promptTokens: number,
    readonly maxCompletionTokens: number,
  ) {
    super(
      `This operation may use up to ${estimatedTokens} tokens (prompts plus max(maxTokens, 1) for each of max(n, bestOf) choices per prompt); the limit is ${maxEstimatedTokens}.`,
    );
    this.name = 'CostLimitError';
  }
}

export function assertWithinCeilings(
  calls: readonly PreparedCompletion[],
  ceilings: OperationCeilings,
): void {
  if (calls.length > ceilings.maxCompletions) {
    throw new TooManyCompletionsError(calls.length, ceilings.maxCompletions);
  }
  let estimatedTokens = 0;
  let promptTokens = 0;
  let maxCompletionTokens = 0;
  for (const { estimate } of calls) {
    estimatedTokens += estimate.totalTokens;
    promptTokens += estimate.promptTokens;
    maxCompletionTokens += estimate.maxCompletionTokens;
  }
  // `!(a <= b)` also refuses NaN: a price that cannot be computed is not within the ceiling.
  if (!(estimatedTokens <= ceilings.maxEstimatedTokens)) {
    throw new CostLimitError(estimatedTokens, ceilings.maxEstimatedTokens, promptTokens, maxCompletionTokens);
  }
}
