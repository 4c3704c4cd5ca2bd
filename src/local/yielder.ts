/**
 * Cooperative time slicing: long synchronous work calls `maybe()` often and only really yields
 * (one `setImmediate` turn) once the slice budget is spent, so the event loop is never held for
 * more than about one budget, while the cost of yielding stays negligible.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { UpstreamAbortedError } from '../upstream/errors.js';

export class Yielder {
  private sliceStart = performance.now();

  constructor(
    private readonly budgetMs = 4,
    private readonly signal?: AbortSignal,
  ) {
    this.throwIfAborted();
  }

  /** True once the current slice has used its budget. */
  due(): boolean {
    return performance.now() - this.sliceStart >= this.budgetMs;
  }

  async maybe(): Promise<void> {
    if (this.due()) await this.yieldNow();
  }

  async yieldNow(): Promise<void> {
    await nextTurn();
    this.sliceStart = performance.now();
    this.throwIfAborted();
  }

  throwIfAborted(): void {
    if (this.signal?.aborted)
      throw new UpstreamAbortedError('The request was aborted.', { cause: this.signal.reason });
  }
}
