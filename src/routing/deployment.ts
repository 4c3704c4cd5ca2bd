import { extended } from '../runtime/objects.js';
import {
  CircuitBreaker,
  type CircuitBreakerOptions,
  type CircuitState,
  isUpstreamHealthFailure,
} from '../upstream/circuit-breaker.js';
import { UpstreamRateLimitError } from '../upstream/errors.js';
import type { CompletionsProvider } from '../upstream/provider.js';
import type { WireUsage } from '../upstream/wire.js';
import type { RouterClock } from './clock.js';
import type { DeploymentSpec } from './config-file.js';
import { RateBucket } from './rate-budget.js';

/**
 * One deployment at run time: its provider (own connection pool), its own circuit breaker and
 * cool-down, its rate budget and the calls it has in flight. `admit` decides at once whether a
 * call may go there now; nothing here ever waits.
 */

export type SkipReason = 'circuit-open' | 'over-budget' | 'rate-limited';

export interface DeploymentStatus {
  name: string;
  kind: 'openai' | 'local';
  /** The name the deployment knows the public model by. */
  model: string;
  /** Position of its group in the route: 0 is tried first. */
  group: number;
  state: CircuitState;
  outstanding: number;
  /** Requests / estimated tokens left in this minute's budget; null without one. */
  remainingRequests: number | null;
  remainingTokens: number | null;
  /** Set while the deployment asked us (429 with retry-after) to leave it alone. */
  rateLimitedUntil: number | null;
}

/** One call's hold on a deployment. Settling is idempotent: the first of the three counts. */
export interface Ticket {
  /** The first chunk of a stream arrived: a half-open probe is decided. */
  answered(): void;
  succeed(usage: WireUsage | null | undefined): void;
  fail(error: unknown): void;
  abandon(): void;
}

/** The fields that are set: an absent override must not blank out a default. */
function definedOnly<T extends object>(values: T | undefined): Partial<T> {
  return Object.fromEntries(
    Object.entries(values ?? {}).filter(([, value]) => value !== undefined),
  ) as Partial<T>;
}

export class Deployment {
  readonly name: string;
  readonly kind: 'openai' | 'local';
  readonly weight: number;
  readonly breaker: CircuitBreaker;
  /** Public model name → this deployment's name for it. */
  readonly models: ReadonlyMap<string, string>;
  outstanding = 0;
  private rateLimitedUntil = 0;
  private readonly requests: RateBucket | undefined;
  private readonly tokens: RateBucket | undefined;

  constructor(
    spec: DeploymentSpec,
    readonly provider: CompletionsProvider,
    private readonly clock: RouterClock,
    breaker: Partial<CircuitBreakerOptions> = {},
  ) {
    this.name = spec.name;
    this.kind = spec.kind;
    this.weight = spec.weight;
    this.models = spec.models;
    const now = () => clock.now();
    this.breaker = new CircuitBreaker(extended(extended(breaker, definedOnly(spec.breaker)), { now }));
    this.requests = spec.rpm === undefined ? undefined : new RateBucket(spec.rpm, now);
    this.tokens = spec.tpm === undefined ? undefined : new RateBucket(spec.tpm, now);
  }

  /** Milliseconds until this deployment could take the call; 0 when it is not rate-bound. */
  waitMs(estimatedTokens: number): number {
    const paused = Math.max(0, this.rateLimitedUntil - this.clock.now());
    return Math.max(paused, this.requests?.waitMs(1) ?? 0, this.tokens?.waitMs(estimatedTokens) ?? 0);
  }

  admit(estimatedTokens: number): Ticket | SkipReason {
    if (this.rateLimitedUntil > this.clock.now()) return 'rate-limited';
    if (this.requests?.waitMs(1) || this.tokens?.waitMs(estimatedTokens)) return 'over-budget';
    const permit = this.breaker.tryAcquire();
    if (permit === undefined) return 'circuit-open';
    this.requests?.tryTake(1);
    this.tokens?.tryTake(estimatedTokens);
    this.outstanding++;
    let settled = false;
    const settle = (action: () => void) => {
      if (settled) return;
      settled = true;
      this.outstanding--;
      action();
    };
    return {
      answered: () => permit.answered(),
      succeed: (usage) =>
        settle(() => {
          permit.succeed();
          if (usage) this.tokens?.adjust(estimatedTokens - usage.total_tokens);
        }),
      fail: (error) =>
        settle(() => {
          if (isUpstreamHealthFailure(error)) permit.fail();
          else permit.abandon();
          // A refused call used no tokens; the request itself still counts against rpm.
          this.tokens?.adjust(estimatedTokens);
          if (error instanceof UpstreamRateLimitError && error.retryAfterSeconds !== undefined) {
            // Bounded where the upstream's header is read (MAX_RETRY_AFTER_SECONDS).
            this.rateLimitedUntil = this.clock.now() + error.retryAfterSeconds * 1000;
          }
        }),
      abandon: () =>
        settle(() => {
          permit.abandon();
        }),
    };
  }

  status(publicModel: string, group: number): DeploymentStatus {
    const until = this.rateLimitedUntil > this.clock.now() ? this.rateLimitedUntil : null;
    return {
      name: this.name,
      kind: this.kind,
      model: this.models.get(publicModel) ?? publicModel,
      group,
      state: this.breaker.state,
      outstanding: this.outstanding,
      remainingRequests: this.requests?.remaining() ?? null,
      remainingTokens: this.tokens?.remaining() ?? null,
      rateLimitedUntil: until,
    };
  }
}
