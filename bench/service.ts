/**
 * The service under test, run as its own process so its RSS and CPU are its own: `createApp` with
 * the HTTP provider in front of the stub at `UPSTREAM_ORIGIN`, production settings, silent logs.
 * The provider keeps its default keep-alive pool unless `UPSTREAM_CONNECTIONS` asks for a bigger
 * one (injected as its dispatcher). Everything else is the app's defaults, rate limits aside.
 * Section 6's "protections on" adds, through the environment: one client key (`BENCH_CLIENT_TOKEN`,
 * sent as `Bearer`), per-client limits of `BENCH_RATE_LIMIT` requests a minute (high enough never
 * to refuse, but counted), and the usage ledger on SQLite at `BENCH_SQLITE_PATH`.
 * Section 7 sets `BENCH_TELEMETRY`, the parts turned on: `metrics`, `traces` (every operation, to
 * `BENCH_OTLP_URL`), `log` (the access log at info, into `BENCH_ACCESS_LOG`); `off` for none.
 */
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Gauge, Registry } from 'prom-client';
import { Agent } from 'undici';
import { createApp } from '../src/app.js';
import { ClientAuthenticator, hashToken } from '../src/auth/client-keys.js';
import { configDefaults } from '../src/config.js';
import { createStorage } from '../src/storage/index.js';
import { createLogger } from '../src/telemetry/logger.js';
import { createMetrics, type Metrics } from '../src/telemetry/metrics.js';
import { createTracing } from '../src/telemetry/tracing.js';
import { createHttpProvider } from '../src/upstream/http.js';
import { serveParent } from './children.js';

const origin = process.env.UPSTREAM_ORIGIN ?? 'http://127.0.0.1:9';
const connections = Number(process.env.UPSTREAM_CONNECTIONS ?? 0);
const clientToken = process.env.BENCH_CLIENT_TOKEN;
const sqlitePath = process.env.BENCH_SQLITE_PATH;
const requestsPerMinute = Number(process.env.BENCH_RATE_LIMIT ?? 0);

const provider = createHttpProvider({
  baseUrl: `${origin}/v1`,
  apiKey: 'sk-bench-not-a-secret',
  timeoutMs: configDefaults.upstreamTimeoutMs,
  maxRetries: configDefaults.upstreamMaxRetries,
  maxResponseBytes: configDefaults.upstreamMaxResponseBytes,
  ...(connections > 0
    ? { dispatcher: new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000, connections }) }
    : {}),
});
// The bench is one client making thousands of calls: the default per-client rate limits would
// refuse most of them, so none (0), or ones it never reaches. A plain object, spread, so the app's
// options may evolve around it.
const benchOptions = {
  rateLimit: { requestsPerMinute, tokensPerMinute: requestsPerMinute * 1_000 },
  ...(clientToken === undefined
    ? {}
    : { authenticator: new ClientAuthenticator([{ name: 'bench', sha256: hashToken(clientToken) }]) }),
};
// Comma-separated parts of telemetry to turn on; metrics alone (the app's default) when unset.
const telemetry = new Set((process.env.BENCH_TELEMETRY ?? 'metrics').split(','));

/** Metrics that record nothing: the baseline "telemetry off" of section 7. */
function noMetrics(): Metrics {
  const nothing = () => {};
  return {
    registry: new Registry(),
    openStreams: new Gauge({ name: 'unused', help: 'unused', registers: [] }),
    call: nothing,
    firstChunk: nothing,
    nextChunk: nothing,
    operation: nothing,
    upstreamAttempt: nothing,
    rateLimitRefusal: nothing,
    writeFailure: nothing,
    cost: nothing,
    watchBreaker: nothing,
    watchWebSockets: nothing,
  };
}

const accessLog = process.env.BENCH_ACCESS_LOG;
const otlpUrl = process.env.BENCH_OTLP_URL;

/** The app with the given parts of telemetry on (section 7 runs two in one process). */
async function build(parts: ReadonlySet<string>, storagePath: string | undefined) {
  return createApp({
    ...benchOptions,
    ...(storagePath === undefined ? {} : { storage: await createStorage({ sqlitePath: storagePath }) }),
    provider,
    logger: createLogger({
      level: parts.has('log') ? 'info' : 'silent',
      secrets: [],
      ...(accessLog === undefined ? {} : { destination: pino.destination({ dest: accessLog, sync: false }) }),
    }),
    production: true,
    metrics: parts.has('metrics') ? createMetrics() : noMetrics(),
    ...(parts.has('traces') && otlpUrl !== undefined
      ? {
          tracing: createTracing({
            url: otlpUrl,
            headers: {},
            serviceName: 'bench',
            sampler: 'parentbased_traceidratio',
            samplerArg: Number(process.env.BENCH_TRACE_RATIO ?? 1),
            captureContent: false,
          }),
        }
      : {}),
  });
}

const app = await build(telemetry, sqlitePath);
// Section 7: a twin with other telemetry in the same process, so both are measured with the same
// JIT, heap and scheduling (separate processes differed by up to 15 % with identical settings).
const twinParts = process.env.BENCH_TWIN_TELEMETRY;
const twin =
  twinParts === undefined
    ? undefined
    : await build(new Set(twinParts.split(',')), sqlitePath && `${sqlitePath}.twin`);
if (twin !== undefined) await new Promise<void>((resolve) => twin.server.listen(0, '127.0.0.1', resolve));

// A listen queue deep enough for the open-streams burst (Node's default backlog is 511).
app.server.listen({ port: 0, host: '127.0.0.1', backlog: 2048 }, () => {
  serveParent((app.server.address() as AddressInfo).port, {
    memory: () => process.memoryUsage(),
    /** Needs `--expose-gc`; a no-op otherwise. */
    gc: () => {
      globalThis.gc?.();
      return true;
    },
    cpu: () => process.cpuUsage(),
    twinPort: () => (twin?.server.address() as AddressInfo | undefined)?.port,
    connections: () =>
      new Promise<number>((resolve, reject) =>
        app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
      ),
  });
});
