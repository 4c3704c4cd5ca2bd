import { LightAbortController } from '../abort.js';
import { UpstreamTimeoutError } from '../upstream/errors.js';
import type { RouterClock } from './clock.js';

/**
 * The time one operation may take across all its attempts and fallbacks. No attempt starts once it
 * has passed, and the attempt in flight when it passes is cancelled (its connection closed).
 *
 * The first attempt at an HTTP deployment runs under the caller's own signal: its provider's
 * timeout is never longer than this deadline (see setup.ts), so it needs no second timer and
 * AbortController, which are most of what routing would otherwise add to every call. Later attempts,
 * and the local engine (which has no timeout of its own), run under a signal this deadline fires.
 */
export class OperationDeadline {
  private controller: LightAbortController | undefined;
  private cancelTimer: (() => void) | undefined;
  private readonly endsAt: number;
  private expired = false;
  private readonly onCallerAbort = () => this.controller?.abort(this.callerSignal?.reason);

  constructor(
    private readonly totalMs: number,
    private readonly callerSignal: AbortSignal | undefined,
    private readonly clock: RouterClock,
  ) {
    this.endsAt = clock.now() + totalMs;
  }

  /** The signal an attempt runs under; `bounded`: its provider's own timeout keeps within this deadline. */
  signalFor(bounded: boolean): AbortSignal | undefined {
    if (bounded && this.controller === undefined) return this.callerSignal;
    if (this.controller === undefined) {
      const controller = new LightAbortController();
      this.controller = controller;
      this.cancelTimer = this.clock.setTimer(
        () => {
          this.expired = true;
          controller.abort(this.timeoutError());
        },
        Math.max(0, this.endsAt - this.clock.now()),
      );
      if (this.callerSignal?.aborted) this.onCallerAbort();
      else this.callerSignal?.addEventListener('abort', this.onCallerAbort, { once: true });
    }
    return this.controller.signal;
  }

  /** Whether another attempt may start: time is left and nobody cancelled. */
  get open(): boolean {
    return !this.timedOut && this.callerSignal?.aborted !== true;
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
    if (this.controller === undefined) return;
    this.cancelTimer?.();
    this.callerSignal?.removeEventListener('abort', this.onCallerAbort);
  }
}
