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

/** What work metered in units needs from a yielder (a test can count or force the yields). */
export type Pacer = Pick<Yielder, 'due' | 'yieldNow'>;

/**
 * Counts work in units (a character scanned, a merge step) for loops whose steps are too small to
 * check the clock after each one: every `unitsPerCheck` units it offers the event loop a turn,
 * which the pacer takes once its time slice is spent. `onSlice` sees the units done between two
 * such offers, so tests can assert the work per slice without measuring time.
 */
export class WorkMeter {
  private units = 0;

  constructor(
    private readonly pacer: Pacer,
    private readonly unitsPerCheck: number,
    private readonly onSlice?: (units: number) => void,
  ) {}

  /** Adds work; true when a checkpoint is due (then `await checkpoint()`). */
  add(units: number): boolean {
    this.units += units;
    return this.units >= this.unitsPerCheck;
  }

  async checkpoint(): Promise<void> {
    this.onSlice?.(this.units);
    this.units = 0;
    if (this.pacer.due()) await this.pacer.yieldNow();
  }

  /** Reports the last, partial slice. */
  finish(): void {
    if (this.units > 0) this.onSlice?.(this.units);
    this.units = 0;
  }
}
