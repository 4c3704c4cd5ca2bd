/**
 * The soak test's settings, read once from the environment (parent and children alike), and the
 * fixed limits the service runs under, so that the clients know the deadlines they check.
 */

function readNumber(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new Error(`${name} must be a number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

export const soak = {
  seconds: readNumber('SOAK_SECONDS', 60, 1, 24 * 3600),
  clients: Math.round(readNumber('SOAK_CLIENTS', 50, 1, 10_000)),
  faultRate: readNumber('SOAK_FAULT_RATE', 0.2, 0, 1),
  /** Hostile client loops beside the honest ones (0: the plain fault soak). */
  hostileClients: Math.round(readNumber('SOAK_HOSTILE_CLIENTS', 5, 0, 1_000)),
  /** Pause between one hostile loop's attacks, so that they probe the service rather than drown it. */
  hostilePauseMs: readNumber('SOAK_HOSTILE_PAUSE_MS', 20, 0, 60_000),
  /** Extra time a coded error may take past the service's own deadline (event loop under load). */
  deadlineSlackMs: readNumber('SOAK_DEADLINE_SLACK_MS', 1_000, 0, 60_000),
};

/** What the service is configured with; the stub's faults are sized against these. */
export const serviceLimits = {
  /** Whole non-streamed call, retries and backoff included. */
  upstreamTimeoutMs: 2_000,
  maxRetries: 2,
  backoff: { baseDelayMs: 50, maxDelayMs: 200, maxRetryAfterMs: 1_000 },
  maxResponseBytes: 64 * 1024,
  stream: { firstByteMs: 2_000, idleMs: 1_000, totalMs: 10_000 },
};

export const faultSizes = {
  /** Bigger than `maxResponseBytes`. */
  oversizeBytes: 100 * 1024,
  /** `retry-after-ms` of an injected 429. */
  retryAfterMs: 20,
  /** A hung or stalled upstream answer is dropped by the stub after this, whatever the service does. */
  hangLimitMs: 60_000,
};

export const client = {
  timeoutMs: 15_000,
  /** Share of each operation kind; the rest are `createCompletion` mutations. */
  streamShare: 0.25,
  modelsShare: 0.05,
  /** Honest reads of one of the client's own stored completions, by id. */
  readShare: 0.05,
  /** Share of the mutations sent with `store: true`. */
  storeShare: 0.1,
  /** Requests sent (by `warmupLoops` loops) before the clock starts, not counted. */
  warmupRequests: 200,
  warmupLoops: 10,
  /** The first RSS sample is taken once this many requests have completed. */
  rssBaselineAfter: 1_000,
  rssGrowthLimitBytes: 50 * 1024 * 1024,
  /** Wait after a forced GC before reading RSS. */
  settleMs: 1_000,
};

/**
 * Per-client limits the service runs with: far above what the honest loops send (a few hundred
 * requests/s each), so that every refusal the hostile client meets comes from the preflight.
 */
export const rateLimit = { requestsPerMinute: 1_000_000, tokensPerMinute: 1_000_000_000 };

/** The longest event-loop delay the service may show while the clock runs. */
export const loopDelayLimitMs = 100;

/** The longest a request may take to fail: the service's deadline plus the slack. */
export const deadlines = {
  mutationMs: serviceLimits.upstreamTimeoutMs + soak.deadlineSlackMs,
  /** Longest silence in a stream before its error: first byte (which covers retries) or idle. */
  streamSilenceMs:
    Math.max(serviceLimits.stream.firstByteMs, serviceLimits.stream.idleMs) + soak.deadlineSlackMs,
  streamTotalMs: serviceLimits.stream.totalMs + soak.deadlineSlackMs,
};
