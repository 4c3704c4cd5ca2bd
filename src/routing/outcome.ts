import {
  UpstreamAbortedError,
  UpstreamRateLimitError,
  UpstreamUnavailableError,
} from '../upstream/errors.js';
import type { Deployment, SkipReason } from './deployment.js';
import type { OperationDeadline } from './operation-deadline.js';

/** What the attempts of one call came to, for the error when none served. */
export class Outcome {
  lastError: unknown;
  private readonly skipped: { deployment: Deployment; reason: SkipReason }[] = [];

  skip(deployment: Deployment, reason: SkipReason): void {
    this.skipped.push({ deployment, reason });
  }

  error(model: string, op: OperationDeadline, estimate: number, caller: AbortSignal | undefined): unknown {
    if (caller?.aborted) return new UpstreamAbortedError('The call was cancelled.');
    if (op.timedOut) return op.timeoutError(this.lastError);
    if (this.lastError !== undefined) return this.lastError;
    const busy = this.skipped.filter((skip) => skip.reason !== 'circuit-open');
    if (busy.length > 0) {
      const waitMs = Math.min(...busy.map((skip) => skip.deployment.waitMs(estimate)));
      return new UpstreamRateLimitError(`Every deployment serving "${model}" is at its rate budget.`, {
        upstreamCode: 'deployments_busy',
        retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)),
      });
    }
    return new UpstreamUnavailableError(
      `Every deployment serving "${model}" is failing; calls are paused for a moment (circuit open).`,
      { upstreamCode: 'circuit_open' },
    );
  }
}
