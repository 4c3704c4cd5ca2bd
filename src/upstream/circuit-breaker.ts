import { UpstreamError, UpstreamRequestError, UpstreamUnavailableError } from './errors.js';
import type { CallOptions, CompletionsProvider } from './provider.js';
import type { WireCompletionRequest, WireCompletionResponse } from './wire.js';

/**
 * A circuit breaker in front of a provider: when most recent calls failed on the upstream's side,
 * calls are refused at once (no upstream hit, no client waiting out a deadline) until a cool-down
 * has passed; then one probe call decides whether to close the circuit again.
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

/** Failures that say the upstream is unwell; a client's bad request or a cancelled call says nothing. */
function countsAsFailure(error: unknown): boolean {
  return (
    error instanceof UpstreamError &&
    !(error instanceof UpstreamRequestError) &&
    error.name !== 'UpstreamAbortedError'
  );
}

export class CircuitBreaker {
  private outcomes: boolean[] = [];
  private openedAt: number | undefined;
  private probing = false;
  private readonly options: CircuitBreakerOptions;

  constructor(options: Partial<CircuitBreakerOptions> = {}) {
    this.options = { ...defaultBreakerOptions, ...options };
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  get state(): CircuitState {
    if (this.openedAt === undefined) return 'closed';
    return this.now() - this.openedAt >= this.options.coolDownMs ? 'half-open' : 'open';
  }

  /** Whether a call may go out now; in half-open state, only one probe at a time. */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open' || this.probing) return false;
    this.probing = true;
    return true;
  }

  record(success: boolean): void {
    if (this.openedAt !== undefined) {
      this.probing = false;
      if (success) {
        this.openedAt = undefined;
        this.outcomes = [];
      } else this.openedAt = this.now();
      return;
    }
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

  /** A call that ended without telling anything about the upstream (cancelled, refused as invalid). */
  abandon(): void {
    this.probing = false;
  }

  async run<T>(call: () => Promise<T>): Promise<T> {
    if (!this.tryAcquire()) throw openError();
    try {
      const result = await call();
      this.record(true);
      return result;
    } catch (error) {
      if (countsAsFailure(error)) this.record(false);
      else this.abandon();
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

async function* breakerStream(
  provider: CompletionsProvider,
  breaker: CircuitBreaker,
  request: WireCompletionRequest,
  options: CallOptions | undefined,
): AsyncGenerator<WireCompletionResponse> {
  if (!breaker.tryAcquire()) throw openError();
  let settled = false;
  try {
    for await (const chunk of provider.stream(request, options)) yield chunk;
    breaker.record(true);
    settled = true;
  } catch (error) {
    if (countsAsFailure(error)) breaker.record(false);
    else breaker.abandon();
    settled = true;
    throw error;
  } finally {
    // The consumer stopped early (unsubscribe): the upstream was fine as far as we know.
    if (!settled) breaker.abandon();
  }
}
