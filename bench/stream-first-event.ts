/**
 * Section 3: time to the first streamed event, one stream at a time, against the stub's burst
 * stream (first event at once, the rest 2 ms apart): straight from the stub, through a bare Node
 * proxy, through the service over SSE on /graphql and over graphql-ws, and, for reference, through
 * a bare graphql-yoga server (bare-yoga.ts) to show what the framework itself costs here, one
 * sample of each in turn. Each stream is read to its end
 * so the keep-alive connection is reused by the next sample.
 */
import { createClient } from 'graphql-ws';
import { Agent, request } from 'undici';
import WebSocket from 'ws';
import { log, percentile, round } from './stats.js';
import type { Row } from './table.js';
import {
  jsonHeaders,
  sseHeaders,
  streamBody,
  streamQuery,
  streamVariables,
  wireStreamBody,
} from './workload.js';

const SECTION = '3. stream: time to first event';
const WARMUP = 50;
const SAMPLES = 300;
const TARGET_ADDED_MS = 1;

type Sample = () => Promise<number>;

/** ms from sending the request to a whole first event (`marker` ... blank line) in the body. */
function sseSample(agent: Agent, url: string, headers: Record<string, string>, body: string, marker: string) {
  return async (): Promise<number> => {
    const started = performance.now();
    const response = await request(url, { method: 'POST', headers, body, dispatcher: agent });
    if (response.statusCode !== 200) throw new Error(`${url} answered ${response.statusCode}`);
    let first = Number.NaN;
    let text = '';
    for await (const chunk of response.body) {
      if (!Number.isNaN(first)) continue;
      text += String(chunk);
      const at = text.indexOf(marker);
      if (at !== -1 && text.indexOf('\n\n', at) !== -1) {
        first = performance.now() - started;
        if (text.includes('"errors"')) throw new Error(`${url}: first event carries errors: ${text}`);
      }
    }
    if (Number.isNaN(first)) throw new Error(`${url}: no event in ${text.slice(0, 200)}`);
    return first;
  };
}

async function graphqlWsSampler(serviceOrigin: string): Promise<{ sample: Sample; close(): Promise<void> }> {
  const client = createClient({
    url: `${serviceOrigin.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
  });
  await new Promise<void>((resolve, reject) => {
    client.on('connected', () => resolve());
    client.on('error', reject);
  });
  const sample: Sample = () =>
    new Promise((resolve, reject) => {
      const started = performance.now();
      let first = Number.NaN;
      client.subscribe(
        { query: streamQuery, variables: streamVariables() },
        {
          next: (value) => {
            if (!Number.isNaN(first)) return;
            first = performance.now() - started;
            if (value.errors !== undefined) reject(new Error(`graphql-ws: ${JSON.stringify(value.errors)}`));
          },
          error: (error) => reject(new Error(`graphql-ws: ${describeClose(error)}`)),
          complete: () => (Number.isNaN(first) ? reject(new Error('graphql-ws: no event')) : resolve(first)),
        },
      );
    });
  return { sample, close: () => client.dispose() as Promise<void> };
}

/** graphql-ws reports a closed socket as a CloseEvent: keep its code and reason. */
function describeClose(error: unknown): string {
  if (error instanceof Error) return error.message;
  const close = error as { code?: number; reason?: string };
  return `socket closed ${close.code ?? '?'} ${close.reason ?? ''}`.trim();
}

/**
 * Every variant's samples, taken in turns (one of each, the order rotating): a slow spell of the
 * machine (they come and go over seconds here) lands on all of them alike, where taking one
 * variant's 300 samples after another's put a spell on one side of a difference of ~1 ms (the
 * same code read +0.85 and +1.54 ms in two runs a minute apart). A failing variant ends the
 * section, unless it is optional: then it is left out from then on, its samples NaN.
 */
async function collectInTurns(
  variants: readonly { name: string; sample: Sample; optional?: true }[],
  onFailure: (name: string, error: unknown) => void,
): Promise<number[][]> {
  const failed = new Set<number>();
  const take = async (index: number, into: number[] | undefined) => {
    if (failed.has(index)) return;
    const variant = variants[index];
    if (variant === undefined) return;
    try {
      const value = await variant.sample();
      into?.push(value);
    } catch (error) {
      // A required variant's failure ends the section; an optional one is told and left out.
      if (variant.optional !== true) throw error;
      failed.add(index);
      onFailure(variant.name, error);
    }
  };
  log(`first event: warming up ${variants.map((variant) => variant.name).join(', ')}`);
  for (let i = 0; i < WARMUP; i++) for (const index of variants.keys()) await take(index, undefined);
  const samples = variants.map(() => [] as number[]);
  log(`first event: ${SAMPLES} samples of each, in turns`);
  for (let i = 0; i < SAMPLES; i++) {
    for (let k = 0; k < variants.length; k++) {
      const index = (i + k) % variants.length;
      await take(index, samples[index]);
    }
  }
  return samples.map((taken, index) => (failed.has(index) ? [Number.NaN] : taken));
}

export async function runStreamFirstEventBench(
  stubOrigin: string,
  proxyOrigin: string,
  serviceOrigin: string,
  bareYogaOrigin: string,
): Promise<Row[]> {
  const agent = new Agent({ connections: 4, keepAliveTimeout: 30_000 });
  const ws = await graphqlWsSampler(serviceOrigin);
  try {
    // (d) is a bonus: when graphql-ws fails, the row says so and the other variants still count.
    let wsFailure = '';
    const [upstream = [], proxy = [], sseOnGraphql = [], bareYoga = [], graphqlWs = []] =
      await collectInTurns(
        [
          {
            name: 'upstream',
            sample: sseSample(agent, `${stubOrigin}/v1/completions`, jsonHeaders, wireStreamBody, 'data: '),
          },
          {
            name: 'raw proxy',
            sample: sseSample(agent, `${proxyOrigin}/v1/completions`, jsonHeaders, wireStreamBody, 'data: '),
          },
          {
            name: 'service, SSE on /graphql',
            sample: sseSample(agent, `${serviceOrigin}/graphql`, sseHeaders, streamBody(), 'event: next'),
          },
          {
            name: 'bare graphql-yoga (reference)',
            sample: sseSample(agent, `${bareYogaOrigin}/graphql`, sseHeaders, streamBody(), 'event: next'),
          },
          { name: 'service, graphql-ws', sample: ws.sample, optional: true },
        ],
        (_name, error) => {
          wsFailure = describeClose(error);
          log(`first event: graphql-ws failed: ${wsFailure}`);
        },
      );

    const rows: Row[] = [];
    const add = (name: string, samples: number[], baseline?: number[]) => {
      for (const p of [50, 99]) {
        const value = percentile(samples, p);
        const base = baseline === undefined ? undefined : percentile(baseline, p);
        rows.push({
          section: SECTION,
          metric: `${name}: p${p} (n=${SAMPLES})`,
          value: round(value, 3),
          unit: 'ms',
          ...(base === undefined ? {} : { baseline: round(base, 3), ratio: value / base }),
        });
      }
    };
    add('(a) upstream stub directly', upstream);
    add('(b) raw node:http proxy', proxy, upstream);
    add('(c) service, SSE on /graphql', sseOnGraphql, proxy);
    if (wsFailure === '') add('(d) service, graphql-ws', graphqlWs, proxy);
    else rows.push({ section: SECTION, metric: `(d) graphql-ws failed: ${wsFailure}`, value: 0, unit: '' });
    add('(e) reference: bare graphql-yoga SSE, one-line resolver, no plugins', bareYoga, proxy);
    const proxyP50 = percentile(proxy, 50);
    for (const [name, samples] of [
      ['SSE on /graphql', sseOnGraphql],
      ['graphql-ws', graphqlWs],
    ] as const) {
      const added = percentile(samples, 50) - proxyP50;
      rows.push({
        section: SECTION,
        metric: `${name}: added over raw proxy at p50`,
        value: round(added, 3),
        unit: 'ms',
        target: `≤ ${TARGET_ADDED_MS} ms`,
        pass: added <= TARGET_ADDED_MS,
      });
    }
    rows.push({
      section: SECTION,
      metric: 'reference, bare graphql-yoga SSE: added over raw proxy at p50',
      value: round(percentile(bareYoga, 50) - proxyP50, 3),
      unit: 'ms',
    });
    return rows;
  } finally {
    await ws.close();
    await agent.close();
  }
}
