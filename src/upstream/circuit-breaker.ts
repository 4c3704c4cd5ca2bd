import { extended } from '../runtime/objects.js';
import { UpstreamBadResponseError, UpstreamTimeoutError, UpstreamUnavailableError } from './errors.js';
import type { CallOptions, CompletionsProvider } from './provider.js';
import type { WireCompletionRequest, WireCompletionResponse } from './wire.js';

/**
 * A circuit breaker in front of a provider: when most recent calls failed on the upstream's side,
 * calls are refused at once (no upstream hit, no client waiting out a deadline) until a cool-down
 * has passed; then one probe call decides whether to close the circuit again.
 *
 * The breaker is shared by every client, so it weighs only the upstream's own health: one client's
 * bad requests, refused pass-through key or spent quota must not shut the service for the others.
 */

export interface CircuitBreakerOptions {
  /** How many recent outcomes are weighed. */
  windowSize: number;
  /** Fewer outcomes than this never open the circuit. */
  minimumCalls: number;
  /** Share of failures in the window that opens the circuit. */
  failureRatio: number;
  coolDownMs: number;
  now?: () => number;
}

export const defaultBreakerOptions: CircuitBreakerOptions = {
  windowSize: 20,
  minimumCalls: 10,
  failureRatio: 0.5,
  coolDownMs: 10_000,
};

export type CircuitState = 'closed' | 'open' | 'half-open';

/**
 * Failures that say the upstream is unwell: 5xx, refused or reset connections, timeouts, malformed
 * or oversized answers. Everything else is about the caller (its request, its key, its quota: a 429
 * is handled by retries and `retryAfter`), about our own configuration, or a cancelled call.
 */
export function isUpstreamHealthFailure(error: unknown): boolean {
  return (
    error instanceof UpstreamUnavailableError ||
    error instanceof UpstreamTimeoutError ||
    error instanceof UpstreamBadResponseError
  );
}

/**
 * One call's right to go out. Settling it is idempotent: only the first of `succeed`, `fail` and
 * `abandon` counts, and `answered` only decides a probe.
 */
export interface BreakerPermit {
  /** The upstream answered (a stream's first chunk): a probe is decided a success, nothing recorded yet. */
  answered(): void;
  succeed(): void;
  fail(): void;
  /** The call ended without telling anything about the upstream (cancelled, refused as invalid). */
  abandon(): void;
}

export class CircuitBreaker {
  private outcomes: boolean[] = [];
  private openedAt: number | undefined;
  /** The permit of the one probe allowed in half-open state, while it is undecided. */
  private probe: object | undefined;
  private readonly options: CircuitBreakerOptions;

  constructor(options: Partial<CircuitBreakerOptions> = {}) {
    this.options = extended(defaultBreakerOptions, options);
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  get state(): CircuitState {
    if (this.openedAt === undefined) return 'closed';
    return this.now() - this.openedAt >= this.options.coolDownMs ? 'half-open' : 'open';
  }

  /** A permit when a call may go out now; in half-open state, only one undecided probe at a time. */
  tryAcquire(): BreakerPermit | undefined {
    const state = this.state;
    if (state === 'open' || (state === 'half-open' && this.probe !== undefined)) return undefined;
    const token = {};
    if (state === 'half-open') this.probe = token;
    let settled = false;
    const settle = (action: () => void) => {
      if (settled) return;
      settled = true;
      action();
    };
    return {
      answered: () => {
        if (!settled && this.probe === token) this.close();
      },
      succeed: () =>
        settle(() => {
          if (this.probe === token) this.close();
          this.recordOutcome(true);
        }),
      fail: () =>
        settle(() => {
          if (this.probe === token) {
            this.probe = undefined;
            this.openedAt = this.now();
          } else this.recordOutcome(false);
        }),
      abandon: () =>
        settle(() => {
          if (this.probe === token) this.probe = undefined;
        }),
    };
  }

  private close(): void {
    this.probe = undefined;
    this.openedAt = undefined;
    this.outcomes = [];
  }

  /** Outcomes count while the circuit is closed; late ones from calls begun before it opened do not. */
  private recordOutcome(success: boolean): void {
    if (this.openedAt !== undefined) return;
    this.outcomes.push(success);
    if (this.outcomes.length > this.options.windowSize) this.outcomes.shift();
    const failures = this.outcomes.filter((ok) => !ok).length;
    if (
      this.outcomes.length >= this.options.minimumCalls &&
      failures / this.outcomes.length >= this.options.failureRatio
    ) {
      this.openedAt = this.now();
    }
  }

  /** Settles the permit from how the call ended. */
  settle(permit: BreakerPermit, error: unknown): void {
    if (isUpstreamHealthFailure(error)) permit.fail();
    else permit.abandon();
  }

  async run<T>(call: () => Promise<T>): Promise<T> {
    const permit = this.tryAcquire();
    if (permit === undefined) throw openError();
    try {
      const result = await call();
      permit.succeed();
      return result;
    } catch (error) {
      this.settle(permit, error);
      throw error;
    }
  }
}

function openError(): UpstreamUnavailableError {
  return new UpstreamUnavailableError(
    'The upstream is failing; calls are paused for a moment (circuit open).',
    {
      upstreamCode: 'circuit_open',
    },
  );
}

/** The same provider, with every call going through the breaker. */
export function withCircuitBreaker(
  provider: CompletionsProvider,
  breaker: CircuitBreaker,
): CompletionsProvider {
  return {
    name: provider.name,
    complete: (request, options) => breaker.run(() => provider.complete(request, options)),
    listModels: (options) => breaker.run(() => provider.listModels(options)),
    stream: (request: WireCompletionRequest, options?: CallOptions) =>
      breakerStream(provider, breaker, request, options),
  };
}

/**
 * A stream's probe is decided when the upstream answers (its first chunk), not when the caller has
 * read it all: a caller that stops reading (suspended at `yield`) or leaves must never keep the probe
 * slot. The stream's own outcome still enters the window when it ends, so a stream cut, malformed
 * or gone silent after it started counts as a failure.
 */
async function* breakerStream(
  provider: CompletionsProvider,
  breaker: CircuitBreaker,
  request: WireCompletionRequest,
  options: CallOptions | undefined,
): AsyncGenerator<WireCompletionResponse> {
  const permit = breaker.tryAcquire();
  if (permit === undefined) throw openError();
  try {
    for await (const chunk of provider.stream(request, options)) {
      permit.answered();
      yield chunk;
    }
    permit.succeed();
  } catch (error) {
    breaker.settle(permit, error);
    throw error;
  } finally {
    // The caller stopped early (unsubscribe): the upstream was fine as far as we know. A no-op
    // when the permit is already settled.
    permit.abandon();
  }
}
