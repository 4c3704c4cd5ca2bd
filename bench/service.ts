/**
 * The service under test, run as its own process so its RSS and CPU are its own: `createApp` with
 * the HTTP provider in front of the stub at `UPSTREAM_ORIGIN`, production settings, silent logs.
 * The provider keeps its default keep-alive pool unless `UPSTREAM_CONNECTIONS` asks for a bigger
 * one (injected as its dispatcher). Everything else is the app's defaults, rate limits aside.
 * Section 6's "protections on" adds, through the environment: one client key (`BENCH_CLIENT_TOKEN`,
 * sent as `Bearer`), per-client limits of `BENCH_RATE_LIMIT` requests a minute (high enough never
 * to refuse, but counted), and the usage ledger on SQLite at `BENCH_SQLITE_PATH`.
 * Section 7 sets `BENCH_TELEMETRY`, the parts turned on: `metrics`, `traces` (`BENCH_TRACE_RATIO`
 * of operations, to `BENCH_OTLP_URL`), `log` (the access log at info, into `BENCH_ACCESS_LOG`,
 * buffered as production writes standard output); `off` for none. `BENCH_TWIN_TELEMETRY` adds
 * twin apps in the same process, `;` between their parts; the `settle` command ends a block of
 * one of them, `profileStart` / `profileStop` take a CPU profile.
 */
import type { AddressInfo } from 'node:net';
import { Gauge, Registry } from 'prom-client';
import { Agent } from 'undici';
import { createApp } from '../src/app.js';
import { ClientAuthenticator, hashToken } from '../src/auth/client-keys.js';
import { configDefaults } from '../src/config.js';
import { tuneGarbageCollection } from '../src/runtime/gc.js';
import { createStorage } from '../src/storage/index.js';
import { createLogger, logDestination } from '../src/telemetry/logger.js';
import { createMetrics, type Metrics } from '../src/telemetry/metrics.js';
import { createTracing } from '../src/telemetry/tracing.js';
import { createHttpProvider } from '../src/upstream/http.js';
import { serveParent } from './children.js';
import { profilerCommands } from './profiler.js';

// As the service's entry point does at start-up (src/runtime/gc.ts).
tuneGarbageCollection();

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
    promptCache: nothing,
    watchBreaker: nothing,
    watchWebSockets: nothing,
  };
}

const accessLog = process.env.BENCH_ACCESS_LOG;
const otlpUrl = process.env.BENCH_OTLP_URL;

/** The app with the given parts of telemetry on (section 7 runs several in one process). */
async function build(parts: ReadonlySet<string>, storagePath: string | undefined) {
  const logger = createLogger({
    level: parts.has('log') ? 'info' : 'silent',
    // What production scrubs from every line: the upstream key at least.
    secrets: ['sk-bench-not-a-secret'],
    // Written as production writes standard output: buffered, asynchronously.
    ...(accessLog === undefined ? {} : { destination: logDestination(accessLog) }),
  });
  const tracing =
    parts.has('traces') && otlpUrl !== undefined
      ? createTracing(
          {
            url: otlpUrl,
            headers: {},
            serviceName: 'bench',
            sampler: 'parentbased_traceidratio',
            samplerArg: Number(process.env.BENCH_TRACE_RATIO ?? 1),
            captureContent: false,
          },
          // Batches of 512 spans, as the SDK makes them under production load (past 100 spans a
          // second it fills one before its 5 s timer): a twin here gets a third of the load.
          { scheduledDelayMillis: 600_000 },
        )
      : undefined;
  const app = createApp({
    ...benchOptions,
    ...(storagePath === undefined ? {} : { storage: await createStorage({ sqlitePath: storagePath }) }),
    provider,
    logger,
    production: true,
    metrics: parts.has('metrics') ? createMetrics() : noMetrics(),
    ...(tracing === undefined ? {} : { tracing }),
  });
  return {
    app,
    /**
     * Finishes the work a block of calls left behind (log lines buffered, garbage), so that its
     * CPU is counted in that block and not in the next one. Spans are exported as production does,
     * a batch when 512 are waiting (in the block whose span fills it): exporting each block's few
     * dozen cost a request and its fixed cost every block, ten times the exports production makes.
     */
    async settle() {
      await new Promise<void>((resolve, reject) =>
        logger.flush((error) => (error ? reject(error) : resolve())),
      );
      // The block's garbage is collected in the block (with --expose-gc): a young-generation
      // collection, the kind its allocations cause; else it is paid in whichever block comes next.
      (globalThis.gc as ((options: { type: 'minor'; execution: 'sync' }) => void) | undefined)?.({
        type: 'minor',
        execution: 'sync',
      });
    },
  };
}

const main = await build(telemetry, sqlitePath);
const app = main.app;
// Section 7: twins with other telemetry in the same process (`;` between twins), so all are
// measured with the same JIT, heap and scheduling (separate processes differed by up to 15 % with
// identical settings).
const twins = await Promise.all(
  (process.env.BENCH_TWIN_TELEMETRY?.split(';') ?? []).map((parts, i) =>
    build(new Set(parts.split(',')), sqlitePath && `${sqlitePath}.twin${i}`),
  ),
);
for (const twin of twins) {
  await new Promise<void>((resolve) => twin.app.server.listen(0, '127.0.0.1', resolve));
}

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
    ...profilerCommands(),
    twinPorts: () => twins.map((twin) => (twin.app.server.address() as AddressInfo).port),
    /** Settles the main app (0) or a twin (1, 2, …): see `settle` above. */
    settle: async (index: unknown) => {
      await (index === 0 ? main : twins[Number(index) - 1])?.settle();
      return true;
    },
    connections: () =>
      new Promise<number>((resolve, reject) =>
        app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
      ),
  });
});
