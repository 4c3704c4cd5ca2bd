import { LightAbortController } from '../abort.js';
import { UpstreamAbortedError, UpstreamTimeoutError } from './errors.js';

/**
 * One AbortSignal for one upstream call, fired by whichever comes first: the caller going away
 * (client disconnect, unsubscribe) or one of the call's timeouts. Remembering which fired lets the
 * caller tell UPSTREAM_TIMEOUT from a cancelled call without guessing from error messages.
 */
export class CallDeadline {
  private readonly controller = new LightAbortController();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly endsAt: number;
  private timeoutMessage: string | undefined;
  private readonly onCallerAbort = () =>
    this.controller.abort(new UpstreamAbortedError('The call was cancelled.'));
  readonly signal = this.controller.signal;

  constructor(
    timeoutMs: number,
    private readonly callerSignal?: AbortSignal,
  ) {
    this.endsAt = Date.now() + timeoutMs;
    this.timeoutAfter(timeoutMs, `The upstream did not answer within ${timeoutMs} ms.`);
    if (callerSignal?.aborted) this.onCallerAbort();
    else callerSignal?.addEventListener('abort', this.onCallerAbort, { once: true });
  }

  /** Adds a timeout that fires this deadline; the returned function cancels it. */
  timeoutAfter(ms: number, message: string): () => void {
    const timer = setTimeout(() => {
      this.timeoutMessage ??= message;
      this.controller.abort(new UpstreamTimeoutError(message));
    }, ms);
    timer.unref();
    this.timers.add(timer);
    return () => {
      clearTimeout(timer);
      this.timers.delete(timer);
    };
  }

  remainingMs(): number {
    return Math.max(0, this.endsAt - Date.now());
  }

  /** When the call was aborted, throws the typed error for the reason; otherwise returns. */
  throwIfAborted(cause?: unknown): void {
    if (!this.signal.aborted) return;
    if (this.timeoutMessage !== undefined) throw new UpstreamTimeoutError(this.timeoutMessage, { cause });
    throw new UpstreamAbortedError('The call was cancelled by the client.', { cause });
  }

  dispose(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.callerSignal?.removeEventListener('abort', this.onCallerAbort);
  }
}
