/**
 * A CPU profile of the service under the bench's load, summed per request: where the time goes, by
 * package and by function (self time); with `PROFILE_KIND=heap`, a sampling heap profile instead:
 * the bytes a request allocates, by where (garbage is the young-generation collections' work, a
 * tenth of a request's CPU); with `PROFILE_KIND=promoted`, only what outlived young-generation
 * collections (what they copy and promote: the old generation's growth, its page faults and its
 * mark-compacts). Not part of `npm run bench`; run by hand:
 *   PROFILE_MODE=graphql|rest|apollo|proxy|json-proxy PROFILE_PARTS=off|metrics,traces,log [PROFILE_KIND=heap|promoted] npx tsx bench/profile.ts
 * The service runs with protections on (one client key, in-memory limits, the ledger on SQLite), as
 * section 6 runs it; `apollo`, `proxy` and `json-proxy` profile section 6's peers instead (Apollo
 * Server answering `createCompletion`, the piped and the JSON raw proxies answering the REST call); `PROFILE_PARTS` turns telemetry on as section 7 does (1 operation in 10 traced,
 * to a sink here; `PROFILE_TRACE_RATIO` changes the 1 in 10), `PROFILE_NODE_FLAGS` adds V8 flags to the profiled process
 * (`--trace-gc-nvp`, `--no-turbo-inlining`). `PROFILE_CALLS` (20,000) calls at c = 64 after 8,000 to warm up; the profile is
 * written under the system's temporary directory and its path printed.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { serviceEnv, startChild, stopAllChildren } from './children.js';
import { measureThroughput } from './stats.js';
import { createCompletionBody, graphqlHeaders, wireBody } from './workload.js';

const mode = process.env.PROFILE_MODE ?? 'graphql';
const parts = process.env.PROFILE_PARTS ?? 'off';
const CALLS = Number(process.env.PROFILE_CALLS ?? 20000);
/** Node flags for the profiled process, e.g. `--trace-gc` or `--max-semi-space-size=64`. */
const nodeFlags = process.env.PROFILE_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];
const TOKEN = 'bench-client-token-not-a-secret';
const sink = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.end());
});
await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
const stub = await startChild('stub-upstream.ts');
const peers: Record<string, string> = {
  apollo: 'peer-apollo.ts',
  proxy: 'raw-proxy.ts',
  'json-proxy': 'raw-json-proxy.ts',
};
const peer = peers[mode];
const child =
  peer === undefined
    ? await startChild(
        'service.ts',
        {
          ...serviceEnv,
          UPSTREAM_ORIGIN: stub.origin,
          BENCH_CLIENT_TOKEN: TOKEN,
          BENCH_RATE_LIMIT: '10000000',
          BENCH_SQLITE_PATH: join(tmpdir(), `profile-${process.pid}.sqlite`),
          BENCH_TELEMETRY: parts,
          BENCH_TRACE_RATIO: process.env.PROFILE_TRACE_RATIO ?? '0.1',
          BENCH_OTLP_URL: `http://127.0.0.1:${(sink.address() as AddressInfo).port}/v1/traces`,
          BENCH_ACCESS_LOG: join(tmpdir(), `profile-${process.pid}.log`),
        },
        nodeFlags,
      )
    : await startChild(peer, { ...serviceEnv, UPSTREAM_ORIGIN: stub.origin }, nodeFlags);
/** Which face the calls go to: the REST call for the REST face and the proxies, GraphQL otherwise. */
const rest = mode === 'rest' || mode === 'proxy' || mode === 'json-proxy';
const agent = new Agent({ connections: 64, keepAliveTimeout: 30_000 });
const call = async () => {
  const r = rest
    ? await request(`${child.origin}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: wireBody,
        dispatcher: agent,
      })
    : await request(`${child.origin}/graphql`, {
        method: 'POST',
        headers: { ...graphqlHeaders, authorization: `Bearer ${TOKEN}` },
        body: createCompletionBody,
        dispatcher: agent,
      });
  const t = await r.body.text();
  if (r.statusCode !== 200 || t.includes('"errors"')) throw new Error(t);
};
await measureThroughput(8000, 64, call);
const kind = process.env.PROFILE_KIND === 'heap' || process.env.PROFILE_KIND === 'promoted' ? 'heap' : 'cpu';
await child.rpc(kind === 'heap' ? 'heapStart' : 'profileStart', process.env.PROFILE_KIND);
await measureThroughput(CALLS, 64, call);
const out = join(
  tmpdir(),
  `${mode}-${parts.replace(/,/g, '+')}.${kind === 'heap' ? 'heapprofile' : 'cpuprofile'}`,
);
console.log(`profile: ${out}`);
await child.rpc(kind === 'heap' ? 'heapStop' : 'profileStop', out);
await stopAllChildren();
sink.close();
await agent.close();

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

/** A frame's package: a dependency's name, a Node module, the service's bundle, or a V8 category. */
function packageOf(frame: CallFrame): string {
  const url = frame.url.replace(/^file:\/\/\/work\/main\//, '');
  if (url === '') return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  if (url.includes('node_modules/')) return url.replace(/.*node_modules\/((@[^/]+\/)?[^/]+).*/, '$1');
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  return url.replace(/bench\/([a-z-]+)\.bundle\.mjs/, '$1-bundle');
}

const functionOf = (frame: CallFrame) =>
  `${frame.functionName || '(anon)'} ${frame.url.replace(/.*node_modules\//, '').replace(/^file:\/\/\/work\/main\//, '')}:${frame.lineNumber}`;

/** Sums `amount` per package and per function and prints them per request. */
function report(title: string, entries: Iterable<[CallFrame, number]>, unit: (total: number) => string) {
  const byFn = new Map<string, number>();
  const byPkg = new Map<string, number>();
  let total = 0;
  for (const [frame, amount] of entries) {
    if (amount === 0 || frame.functionName === '(idle)') continue;
    total += amount;
    byFn.set(functionOf(frame), (byFn.get(functionOf(frame)) ?? 0) + amount);
    byPkg.set(packageOf(frame), (byPkg.get(packageOf(frame)) ?? 0) + amount);
  }
  console.log(`${title} ${unit(total)} (mode ${mode}, parts ${parts})`);
  for (const [k, v] of [...byPkg].sort((a, b) => b[1] - a[1]).slice(0, 25))
    console.log(`  ${unit(v).padStart(7)}  ${k}`);
  console.log('--- top functions');
  for (const [k, v] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.PROFILE_TOP ?? 40)))
    console.log(`  ${unit(v).padStart(7)}  ${k}`);
}

if (kind === 'heap') {
  // Allocation sampled every 4 KB, objects already collected included: what a request allocates.
  interface HeapNode {
    callFrame: CallFrame;
    selfSize: number;
    children: HeapNode[];
  }
  const { head } = JSON.parse(readFileSync(out, 'utf8')) as { head: HeapNode };
  const entries: [CallFrame, number][] = [];
  const walk = (node: HeapNode) => {
    entries.push([node.callFrame, node.selfSize]);
    for (const child of node.children) walk(child);
  };
  walk(head);
  report('bytes allocated/request', entries, (bytes) => (bytes / CALLS).toFixed(0));
} else {
  const p = JSON.parse(readFileSync(out, 'utf8')) as {
    nodes: { id: number; callFrame: CallFrame }[];
    samples: number[];
    timeDeltas: number[];
  };
  const self = new Map<number, number>();
  for (const [i, id] of p.samples.entries()) self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  report(
    'busy µs/request',
    p.nodes.map((node) => [node.callFrame, self.get(node.id) ?? 0]),
    (us) => (us / CALLS).toFixed(1),
  );
}
