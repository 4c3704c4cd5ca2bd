import { UpstreamTimeoutError } from '../upstream/errors.js';
import type { RouterClock } from './clock.js';

/**
 * The time one operation may take across all its attempts and fallbacks. Its signal is what every
 * attempt runs under, so when it passes the attempt in flight is cancelled (its connection closed)
 * and no further attempt starts.
 */
export class OperationDeadline {
  private readonly controller = new AbortController();
  private readonly endsAt: number;
  private readonly cancelTimer: () => void;
  private expired = false;
  private readonly onCallerAbort = () => this.controller.abort(this.callerSignal?.reason);
  readonly signal = this.controller.signal;

  constructor(
    private readonly totalMs: number,
    private readonly callerSignal: AbortSignal | undefined,
    private readonly clock: RouterClock,
  ) {
    this.endsAt = clock.now() + totalMs;
    this.cancelTimer = clock.setTimer(() => {
      this.expired = true;
      this.controller.abort(this.timeoutError());
    }, totalMs);
    if (callerSignal?.aborted) this.onCallerAbort();
    else callerSignal?.addEventListener('abort', this.onCallerAbort, { once: true });
  }

  /** Whether another attempt may start: time is left and nobody cancelled. */
  get open(): boolean {
    if (!this.expired && this.clock.now() >= this.endsAt) this.expired = true;
    return !this.expired && !this.signal.aborted;
  }

  get timedOut(): boolean {
    return this.expired || this.clock.now() >= this.endsAt;
  }

  timeoutError(cause?: unknown): UpstreamTimeoutError {
    return new UpstreamTimeoutError(
      `No deployment answered within ${this.totalMs} ms.`,
      cause === undefined ? {} : { cause },
    );
  }

  /** An attempt's failure as the caller should see it: cut by this deadline means a timeout. */
  translate(error: unknown): unknown {
    return this.timedOut && !this.callerSignal?.aborted && !(error instanceof UpstreamTimeoutError)
      ? this.timeoutError(error)
      : error;
  }

  dispose(): void {
    this.cancelTimer();
    this.callerSignal?.removeEventListener('abort', this.onCallerAbort);
  }
}
