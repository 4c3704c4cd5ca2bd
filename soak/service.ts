/**
 * The service under soak, run as its own process so its RSS is its own: `createApp` with the HTTP
 * provider in front of the stub at `UPSTREAM_ORIGIN`, production mode, the short deadlines of
 * `serviceLimits`, the client keys of `CLIENT_KEYS` (as the deployed service reads them), SQLite
 * storage at `SOAK_SQLITE_PATH`, per-client limits far above the honest load, the default operation
 * limits, and a circuit breaker that never opens (every fault reaches a request instead of being
 * turned into "circuit open"). Logs at `warn` to `SOAK_LOG_FILE`, counted by level. Counts
 * `unhandledRejection` / `uncaughtException` instead of crashing.
 */
import { createWriteStream } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { serveParent } from '../bench/children.js';
import { createApp } from '../src/app.js';
import { ClientAuthenticator, parseClientKeys } from '../src/auth/client-keys.js';
import { createStorage } from '../src/storage/index.js';
import { createLogger } from '../src/telemetry/logger.js';
import { createHttpProvider } from '../src/upstream/http.js';
import { rateLimit, serviceLimits } from './config.js';
import { watchLoopDelay } from './loop-delay.js';

const origin = process.env.UPSTREAM_ORIGIN ?? 'http://127.0.0.1:9';
const logFile = createWriteStream(process.env.SOAK_LOG_FILE ?? '/dev/null', { flags: 'w' });

const levelNames: Record<number, string> = { 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const logLines: Record<string, number> = {};
/** Distinct `level: msg (err.message)` lines with their counts, the first 30 kept. */
const logSamples = new Map<string, number>();

function countLine(line: string): void {
  let entry: { level?: number; msg?: string; err?: { message?: string; type?: string } } = {};
  try {
    entry = JSON.parse(line) as typeof entry;
  } catch {}
  const level = levelNames[entry.level ?? 0] ?? `level ${entry.level}`;
  logLines[level] = (logLines[level] ?? 0) + 1;
  const err = entry.err === undefined ? '' : ` (${entry.err.type ?? 'Error'}: ${entry.err.message ?? ''})`;
  // yoga logs a GraphQL error as its string form: the message, then the source excerpt.
  const message = (entry.msg ?? '').split('\n')[0] ?? '';
  const key = `${level}: ${message}${err}`.slice(0, 300);
  if (logSamples.has(key) || logSamples.size < 30) logSamples.set(key, (logSamples.get(key) ?? 0) + 1);
}

const logger = createLogger({
  level: 'warn',
  secrets: [],
  destination: {
    write(line: string) {
      countLine(line);
      logFile.write(line);
    },
  },
});

const crashes = { unhandledRejections: 0, uncaughtExceptions: 0, samples: [] as string[] };
function noteCrash(kind: 'unhandledRejections' | 'uncaughtExceptions', error: unknown): void {
  crashes[kind]++;
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  if (crashes.samples.length < 10) crashes.samples.push(`${kind}: ${text.slice(0, 600)}`);
  logger.error({ err: error }, kind);
}
process.on('unhandledRejection', (reason) => noteCrash('unhandledRejections', reason));
process.on('uncaughtException', (error) => noteCrash('uncaughtExceptions', error));

const provider = createHttpProvider({
  baseUrl: `${origin}/v1`,
  apiKey: 'sk-soak-not-a-secret',
  timeoutMs: serviceLimits.upstreamTimeoutMs,
  maxRetries: serviceLimits.maxRetries,
  maxResponseBytes: serviceLimits.maxResponseBytes,
  backoff: serviceLimits.backoff,
  stream: serviceLimits.stream,
});

const storage = await createStorage({ sqlitePath: process.env.SOAK_SQLITE_PATH ?? ':memory:' });
const app = createApp({
  provider,
  logger,
  production: true,
  authenticator: new ClientAuthenticator(parseClientKeys(process.env.CLIENT_KEYS ?? '')),
  storage,
  rateLimit,
  // Never opens: each injected fault must show up on the request that met it.
  breaker: { minimumCalls: Number.MAX_SAFE_INTEGER },
});

/**
 * Tag (the client's `x-soak-tag` header) → `Date.now()` when the request reached the server, in a
 * fixed ring (2 MB, allocated before the first RSS reading) so the record keeping adds no growth.
 */
const arrivals = new Float64Array(1 << 18);
app.server.prependListener('request', (req) => {
  const tag = Number(req.headers['x-soak-tag']);
  if (Number.isInteger(tag) && tag >= 0) arrivals[tag % arrivals.length] = Date.now();
});

const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
/** The same over the measured window, percentiles and forced GCs apart. */
const delayWindow = watchLoopDelay();

app.server.listen({ port: 0, host: '127.0.0.1', backlog: 2048 }, () => {
  serveParent((app.server.address() as AddressInfo).port, {
    memory: () => process.memoryUsage(),
    /** The longest event-loop delay since the last call, ms. */
    loopDelay: () => {
      const max = loopDelay.max / 1e6;
      loopDelay.reset();
      return max;
    },
    /** Event-loop delay and GC pauses since the last call; the first call opens the window. */
    loopDelayWindow: () => delayWindow.take(),
    /** Needs `--expose-gc`; says whether it ran. */
    gc: () => {
      const gc = globalThis.gc;
      if (gc !== undefined) delayWindow.forceGc(() => gc());
      return gc !== undefined;
    },
    crashes: () => crashes,
    /** When the requests with the given tags reached the server. */
    arrivals: (tags) => (tags as number[]).map((tag) => arrivals[tag % arrivals.length] || null),
    log: () => ({ lines: logLines, samples: [...logSamples.entries()] }),
    breaker: () => app.breaker.state,
    connections: () =>
      new Promise<number>((resolve, reject) =>
        app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
      ),
  });
});
