/**
 * Section 8's service: the app in front of the stub at `UPSTREAM_ORIGIN`, as one upstream
 * (`BENCH_DEPLOYMENTS=1`, the HTTP provider behind the app's breaker, as without UPSTREAMS_FILE)
 * or routed over three deployments of one group (`3`, from an UPSTREAMS_FILE text). Everything else
 * is the same, so the difference in CPU is the router's.
 */
import type { AddressInfo } from 'node:net';
import { createApp } from '../src/app.js';
import { configDefaults } from '../src/config.js';
import { parseUpstreamsFile } from '../src/routing/config-file.js';
import { createRouter } from '../src/routing/router.js';
import { tuneGarbageCollection } from '../src/runtime/gc.js';
import { createLogger } from '../src/telemetry/logger.js';
import { createHttpProvider } from '../src/upstream/http.js';
import type { CompletionsProvider } from '../src/upstream/provider.js';
import { serveParent } from './children.js';
import { model } from './workload.js';

// As the service's entry point does at start-up (src/runtime/gc.ts).
tuneGarbageCollection();

const origin = process.env.UPSTREAM_ORIGIN ?? 'http://127.0.0.1:9';
const routed = process.env.BENCH_DEPLOYMENTS === '3';

const http = () =>
  createHttpProvider({
    baseUrl: `${origin}/v1`,
    apiKey: 'sk-bench-not-a-secret',
    timeoutMs: configDefaults.upstreamTimeoutMs,
    maxRetries: configDefaults.upstreamMaxRetries,
    maxResponseBytes: configDefaults.upstreamMaxResponseBytes,
  });

function provider(): CompletionsProvider {
  if (!routed) return http();
  const spec = parseUpstreamsFile(
    ['a', 'b', 'c']
      .map((name) => `- { name: ${name}, kind: openai, baseUrl: "${origin}/v1", models: [${model}] }`)
      .join('\n')
      .replace(/^/, 'deployments:\n')
      .concat(`\nroutes:\n  ${model}: [[a, b, c]]\n`),
    {},
  );
  return createRouter({
    deployments: spec.deployments.map((deployment) => ({ spec: deployment, provider: http() })),
    routes: spec.routes,
    completeDeadlineMs: configDefaults.upstreamTimeoutMs,
    streamDeadlineMs: configDefaults.streamTimeouts.totalMs,
  });
}

const app = createApp({
  provider: provider(),
  logger: createLogger({ level: 'silent', secrets: [] }),
  production: true,
  rateLimit: { requestsPerMinute: 0, tokensPerMinute: 0 },
});

app.server.listen({ port: 0, host: '127.0.0.1' }, () => {
  serveParent((app.server.address() as AddressInfo).port, { cpu: () => process.cpuUsage() });
});
