/**
 * A CPU profile of the service under the bench's load, summed per request: where the time goes, by
 * package and by function (self time). Not part of `npm run bench`; run by hand:
 *   PROFILE_MODE=graphql|rest PROFILE_PARTS=off|metrics,traces,log npx tsx bench/profile.ts
 * The service runs with protections on (one client key, in-memory limits, the ledger on SQLite), as
 * section 6 runs it; `PROFILE_PARTS` turns telemetry on as section 7 does (1 operation in 10 traced,
 * to a sink here). `PROFILE_CALLS` (20,000) calls at c = 64 after 8,000 to warm up; the profile is
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
const TOKEN = 'bench-client-token-not-a-secret';
const sink = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.end());
});
await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
const stub = await startChild('stub-upstream.ts');
const child = await startChild('service.ts', {
  ...serviceEnv,
  UPSTREAM_ORIGIN: stub.origin,
  BENCH_CLIENT_TOKEN: TOKEN,
  BENCH_RATE_LIMIT: '10000000',
  BENCH_SQLITE_PATH: join(tmpdir(), `profile-${process.pid}.sqlite`),
  BENCH_TELEMETRY: parts,
  BENCH_TRACE_RATIO: '0.1',
  BENCH_OTLP_URL: `http://127.0.0.1:${(sink.address() as AddressInfo).port}/v1/traces`,
  BENCH_ACCESS_LOG: join(tmpdir(), `profile-${process.pid}.log`),
});
const agent = new Agent({ connections: 64, keepAliveTimeout: 30_000 });
const call = async () => {
  const r =
    mode === 'rest'
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
await child.rpc('profileStart');
await measureThroughput(CALLS, 64, call);
const out = join(tmpdir(), `${mode}-${parts.replace(/,/g, '+')}.cpuprofile`);
console.log(`profile: ${out}`);
await child.rpc('profileStop', out);
await stopAllChildren();
sink.close();
await agent.close();
interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
const p = JSON.parse(readFileSync(out, 'utf8')) as {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
};
const self = new Map<number, number>();
for (const [i, id] of p.samples.entries()) self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
const byFn = new Map<string, number>();
const byPkg = new Map<string, number>();
let total = 0;
for (const n of p.nodes) {
  const t = self.get(n.id) ?? 0;
  if (n.callFrame.functionName === '(idle)') continue;
  total += t;
  const url = n.callFrame.url.replace(/^file:\/\/\/work\/main\//, '');
  const key = `${n.callFrame.functionName || '(anon)'} ${url.replace(/.*node_modules\//, '')}:${n.callFrame.lineNumber}`;
  byFn.set(key, (byFn.get(key) ?? 0) + t);
  const pkg =
    url === ''
      ? n.callFrame.functionName.startsWith('(')
        ? n.callFrame.functionName
        : '(native)'
      : url.includes('node_modules/')
        ? url.replace(/.*node_modules\/((@[^/]+\/)?[^/]+).*/, '$1')
        : url.startsWith('node:')
          ? `node:${url.slice(5).split('/')[0]}`
          : url.replace(/bench\/service\.bundle\.mjs/, 'service-bundle');
  byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + t);
}
const per = (us: number) => (us / CALLS).toFixed(1);
console.log(`busy µs/request ${per(total)} (mode ${mode}, parts ${parts})`);
for (const [k, v] of [...byPkg].sort((a, b) => b[1] - a[1]).slice(0, 25))
  console.log(`  ${per(v).padStart(7)}  ${k}`);
console.log('--- top functions');
for (const [k, v] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.PROFILE_TOP ?? 40)))
  console.log(`  ${per(v).padStart(7)}  ${k}`);
