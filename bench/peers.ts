/**
 * Section 6: the service beside the servers a user would pick instead, each its own process in
 * front of the same stub, answering the same `createCompletion` (the peers with the schema of
 * `peer-schema.ts`): Apollo Server 5, Mercurius + graphql-jit, a bare graphql-yoga, and, for the
 * REST face, the raw Node proxy (piped) and a raw undici proxy that parses and maps the JSON (the
 * issue's baseline). The service runs twice: as section 2 runs it (no keys, no limits,
 * no storage) and with its protections on (one client key, in-memory limits it never reaches, the
 * usage ledger on SQLite; the cost rule and Armor are always on). For each: p50 at c=1, then
 * requests/s and the server's own CPU per request at c=16 and c=64.
 *
 * Measured in many short rounds, the servers' order rotating each round, so a burst of other work
 * on the machine lands on one round of some servers rather than on all rounds of one: CPU and
 * requests/s are the median round, a ratio is the median over rounds of the same round's ratio
 * (separate processes drift apart by 10–40 % between runs here, more than the differences to
 * measure), and p50 is over the pooled samples.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Agent, request } from 'undici';
import { type BenchChild, childrenCpuPerCall, serviceEnv, startChild } from './children.js';
import { machineCpu, type PeerFigures, type PeerKey, peerRows } from './peers-rows.js';
import { log, measureThroughput, percentile, waitFor } from './stats.js';
import type { Row } from './table.js';
import { createCompletionBody, graphqlHeaders, jsonHeaders, wireBody } from './workload.js';

const WARMUP = 500;
const ROUNDS = 12;
const SEQUENTIAL_PER_ROUND = 50;
const LOADED_PER_ROUND = 300;
const CONCURRENCIES = [16, 64] as const;
/** Counted by the limiter on every call, never reached. */
const RATE_LIMIT = 10_000_000;
const CLIENT_TOKEN = 'bench-client-token-not-a-secret';

interface Target {
  key: PeerKey;
  child: BenchChild;
  /** Only the latency at c=1 is asked of it (the floor that p50s are "added" to). */
  latencyOnly?: boolean;
  call: () => Promise<void>;
}

export interface PeerChildren {
  stub: BenchChild;
  proxy: BenchChild;
  bareYoga: BenchChild;
  service: BenchChild;
}

function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/**
 * Evidence that the protections were on, not only configured: a call without the key is refused,
 * and the SQLite ledger counts every call the two protected targets made (it is written in
 * batches, about once a second, so it is polled).
 */
async function checkProtections(guarded: BenchChild, sqlitePath: string, expected: number) {
  const anonymous = await request(`${guarded.origin}/graphql`, {
    method: 'POST',
    headers: graphqlHeaders,
    body: createCompletionBody,
  });
  const answer = await anonymous.body.text();
  const refusedWithoutKey = anonymous.statusCode !== 200 || answer.includes('"errors"');
  const db = new Database(sqlitePath, { readonly: true, fileMustExist: true });
  let recorded = 0;
  try {
    const count = db.prepare<[], { requests: number | null }>(
      'SELECT sum(requests) AS requests FROM usage_ledger',
    );
    await waitFor(() => {
      recorded = count.get()?.requests ?? 0;
      return recorded >= expected;
    }, 5_000);
  } finally {
    db.close();
  }
  return { refusedWithoutKey, recorded, expected };
}

export async function runPeersBench(children: PeerChildren): Promise<Row[]> {
  const { stub } = children;
  const upstream = { UPSTREAM_ORIGIN: stub.origin };
  const dir = await mkdtemp(join(tmpdir(), 'bench-peers-'));
  const agent = new Agent({ connections: 64, keepAliveTimeout: 30_000 });
  const started: BenchChild[] = [];
  try {
    log('peers: starting Apollo Server, Mercurius, the JSON proxy and the service with protections on');
    const [apollo, mercurius, jsonProxy, guarded] = await Promise.all([
      startChild('peer-apollo.ts', { ...serviceEnv, ...upstream }),
      startChild('peer-mercurius.ts', { ...serviceEnv, ...upstream }),
      startChild('raw-json-proxy.ts', { ...serviceEnv, ...upstream }),
      startChild('service.ts', {
        ...serviceEnv,
        ...upstream,
        BENCH_CLIENT_TOKEN: CLIENT_TOKEN,
        BENCH_RATE_LIMIT: String(RATE_LIMIT),
        BENCH_SQLITE_PATH: join(dir, 'ledger.sqlite'),
      }),
    ]);
    started.push(apollo, mercurius, jsonProxy, guarded);

    const post = async (url: string, headers: Record<string, string>, body: string) => {
      const response = await request(url, { method: 'POST', headers, body, dispatcher: agent });
      const text = await response.body.text();
      if (response.statusCode !== 200) throw new Error(`${url} answered ${response.statusCode}: ${text}`);
      return JSON.parse(text) as { data?: unknown; errors?: unknown; choices?: unknown };
    };
    const auth = { authorization: `Bearer ${CLIENT_TOKEN}` };
    const graphql = (key: PeerKey, child: BenchChild, headers = graphqlHeaders): Target => ({
      key,
      child,
      call: async () => {
        const json = await post(`${child.origin}/graphql`, headers, createCompletionBody);
        if (json.errors !== undefined || json.data == null)
          throw new Error(`${key}: ${JSON.stringify(json.errors)}`);
      },
    });
    const rest = (key: PeerKey, child: BenchChild, headers: Record<string, string>): Target => ({
      key,
      child,
      call: async () => {
        const json = await post(`${child.origin}/v1/completions`, headers, wireBody);
        if (!Array.isArray(json.choices)) throw new Error(`${key}: no choices`);
      },
    });
    const targets: Target[] = [
      { ...rest('stub', stub, jsonHeaders), latencyOnly: true },
      rest('proxy', children.proxy, jsonHeaders),
      rest('jsonProxy', jsonProxy, jsonHeaders),
      graphql('yoga', children.bareYoga),
      graphql('apollo', apollo),
      graphql('mercurius', mercurius),
      graphql('service', children.service),
      graphql('guarded', guarded, { ...graphqlHeaders, ...auth }),
      rest('rest', guarded, { ...jsonHeaders, ...auth }),
    ];

    const machineBefore = await machineCpu([...Object.values(children), ...started]);
    for (const target of targets) {
      log(`peers: warming up ${target.key}`);
      await measureThroughput(WARMUP, 64, target.call);
    }
    const latencies = new Map<PeerKey, number[]>();
    const loaded = new Map<string, { perSecond: number[]; cpu: number[] }>();
    const calls = ROUNDS * (SEQUENTIAL_PER_ROUND + LOADED_PER_ROUND * CONCURRENCIES.length);
    for (let round = 0; round < ROUNDS; round++) {
      log(`peers: round ${round + 1} of ${ROUNDS}`);
      const order = targets.map((_, i) => targets[(i + round * 3) % targets.length] as Target);
      for (const target of order) {
        const sequential = await measureThroughput(SEQUENTIAL_PER_ROUND, 1, target.call);
        latencies.set(target.key, [...(latencies.get(target.key) ?? []), ...sequential.latencies]);
        if (target.latencyOnly) continue;
        for (const concurrency of CONCURRENCIES) {
          let perSecond = 0;
          const [cpu = 0] = await childrenCpuPerCall([target.child], LOADED_PER_ROUND, async () => {
            perSecond = (await measureThroughput(LOADED_PER_ROUND, concurrency, target.call)).perSecond;
          });
          const entry = loaded.get(`${target.key}@${concurrency}`) ?? { perSecond: [], cpu: [] };
          entry.perSecond.push(perSecond);
          entry.cpu.push(cpu);
          loaded.set(`${target.key}@${concurrency}`, entry);
        }
      }
    }
    const machineAfter = await machineCpu([...Object.values(children), ...started]);
    const protections = await checkProtections(guarded, join(dir, 'ledger.sqlite'), (WARMUP + calls) * 2);

    const figures = new Map<PeerKey, PeerFigures>();
    for (const target of targets) {
      const at = (concurrency: number) => loaded.get(`${target.key}@${concurrency}`);
      figures.set(target.key, {
        p50: percentile(latencies.get(target.key) ?? [], 50),
        perSecond16: median(at(16)?.perSecond ?? []),
        perSecond64: median(at(64)?.perSecond ?? []),
        cpu16: median(at(16)?.cpu ?? []),
        cpu64: median(at(64)?.cpu ?? []),
        rounds: {
          perSecond16: at(16)?.perSecond ?? [],
          perSecond64: at(64)?.perSecond ?? [],
          cpu16: at(16)?.cpu ?? [],
          cpu64: at(64)?.cpu ?? [],
        },
      });
    }
    return peerRows(figures, {
      sequential: SEQUENTIAL_PER_ROUND * ROUNDS,
      loaded: LOADED_PER_ROUND * ROUNDS,
      machineBefore,
      machineAfter,
      protections,
    });
  } finally {
    await agent.close();
    await Promise.all(started.map((child) => child.stop()));
    await rm(dir, { recursive: true, force: true });
  }
}
