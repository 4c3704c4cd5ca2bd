import { extended } from '../runtime/objects.js';
import type { Completion, CompletionChoice } from './model.js';

/**
 * Folds streamed events back into one completion (text joined per choice, the last finish reason,
 * the usage event's counts), so a finished stream can be stored like a non-streamed completion.
 */
export class StreamAssembly {
  private head: Completion | undefined;
  private readonly choices = new Map<number, CompletionChoice>();

  add(event: Completion): void {
    this.head ??= event;
    if (event.usage !== null) this.head = extended(this.head, { usage: event.usage });
    for (const piece of event.choices) {
      const current = this.choices.get(piece.index);
      if (current === undefined) {
        this.choices.set(piece.index, extended(piece, { logprobs: piece.logprobs && { ...piece.logprobs } }));
        continue;
      }
      current.text += piece.text;
      if (piece.finishReason !== null) {
        current.finishReason = piece.finishReason;
        current.finishReasonRaw = piece.finishReasonRaw;
      }
      if (current.logprobs && piece.logprobs) {
        current.logprobs = {
          tokens: [...current.logprobs.tokens, ...piece.logprobs.tokens],
          tokenLogprobs: [...current.logprobs.tokenLogprobs, ...piece.logprobs.tokenLogprobs],
          textOffset: [...current.logprobs.textOffset, ...piece.logprobs.textOffset],
          topLogprobs:
            current.logprobs.topLogprobs && piece.logprobs.topLogprobs
              ? [...current.logprobs.topLogprobs, ...piece.logprobs.topLogprobs]
              : current.logprobs.topLogprobs,
        };
      }
    }
  }

  /** The whole completion, or undefined when no event came. */
  result(): Completion | undefined {
    if (this.head === undefined) return undefined;
    const choices = [...this.choices.values()].sort((a, b) => a.index - b.index);
    return extended(this.head, { choices });
  }
}
