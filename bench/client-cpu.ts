/**
 * Section 1: client-side CPU per non-streamed `POST /completions` against the stub (in its own
 * process): our undici provider vs the official `openai` client vs global `fetch` + `JSON.parse`.
 * The three run in interleaved rounds, so drift (GC, JIT, thermal) spreads over all of them.
 */
import OpenAI from 'openai';
import { createHttpProvider } from '../src/upstream/http.js';
import { log, measureThroughput, round } from './stats.js';
import type { Row } from './table.js';
import { jsonHeaders, wireBody, wireRequest } from './workload.js';

const SECTION = '1. upstream client CPU';
const WARMUP = 500;
const ROUNDS = 3;
const PER_ROUND = 1_000;
const CONCURRENCY = 8;

type Call = () => Promise<unknown>;

function expectText(text: unknown, client: string): void {
  if (typeof text !== 'string' || !text.includes('Raptors')) throw new Error(`${client}: unexpected answer`);
}

export async function runClientCpuBench(stubOrigin: string): Promise<Row[]> {
  const baseUrl = `${stubOrigin}/v1`;
  const provider = createHttpProvider({
    baseUrl,
    apiKey: 'sk-bench',
    timeoutMs: 30_000,
    maxRetries: 0,
    maxResponseBytes: 1024 * 1024,
  });
  const openai = new OpenAI({ baseURL: baseUrl, apiKey: 'sk-bench', maxRetries: 0 });
  const url = `${baseUrl}/completions`;
  const headers = { ...jsonHeaders, authorization: 'Bearer sk-bench' };

  const clients: Record<string, Call> = {
    'undici provider': async () => {
      const { response } = await provider.complete(wireRequest);
      return response.choices[0]?.text;
    },
    'openai client': async () => {
      const completion = await openai.completions.create(wireRequest);
      return completion.choices[0]?.text;
    },
    'fetch + JSON.parse': async () => {
      const response = await fetch(url, { method: 'POST', headers, body: wireBody });
      const json = JSON.parse(await response.text()) as { choices: { text: string }[] };
      return json.choices[0]?.text;
    },
  };

  try {
    const totals = new Map<string, { cpu: number; seconds: number }>();
    for (const [name, call] of Object.entries(clients)) {
      expectText(await call(), name);
      await measureThroughput(WARMUP, CONCURRENCY, call);
      totals.set(name, { cpu: 0, seconds: 0 });
    }
    for (let round = 1; round <= ROUNDS; round++) {
      log(`client CPU: round ${round}/${ROUNDS}`);
      for (const [name, call] of Object.entries(clients)) {
        const result = await measureThroughput(PER_ROUND, CONCURRENCY, call);
        const total = totals.get(name);
        if (total === undefined) continue;
        total.cpu += result.cpuMicros * PER_ROUND;
        total.seconds += PER_ROUND / result.perSecond;
      }
    }
    const count = ROUNDS * PER_ROUND;
    const perCall = (name: string) => {
      const total = totals.get(name) ?? { cpu: Number.NaN, seconds: Number.NaN };
      return { cpu: total.cpu / count, perSecond: count / total.seconds };
    };
    const undici = perCall('undici provider');
    const rows: Row[] = [];
    for (const name of Object.keys(clients)) {
      const { cpu, perSecond } = perCall(name);
      const isBase = name === 'undici provider';
      rows.push({
        section: SECTION,
        metric: `${name}: CPU per request (c=${CONCURRENCY}, n=${count})`,
        value: round(cpu, 0),
        unit: 'µs',
        ...(isBase ? {} : { baseline: round(undici.cpu, 0), ratio: cpu / undici.cpu }),
        ...(name === 'openai client'
          ? { target: 'ratio ≥ 2× (doc claims ~2.5×)', pass: cpu / undici.cpu >= 2 }
          : {}),
      });
      rows.push({
        section: SECTION,
        metric: `${name}: requests/s`,
        value: round(perSecond, 0),
        unit: 'req/s',
        ...(isBase ? {} : { baseline: round(undici.perSecond, 0), ratio: perSecond / undici.perSecond }),
      });
    }
    return rows;
  } finally {
    await provider.close();
  }
}
