/**
 * Section 3: time to the first streamed event, one stream at a time, against the stub's burst
 * stream (first event at once, the rest 2 ms apart): straight from the stub, through a bare Node
 * proxy, through the service over SSE on /graphql and over graphql-ws, and, for reference, through
 * a bare graphql-yoga server (bare-yoga.ts) to show what the framework itself costs here. Each stream is read to its end
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

async function collect(name: string, sample: Sample): Promise<number[]> {
  log(`first event: ${name}`);
  for (let i = 0; i < WARMUP; i++) await sample();
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) samples.push(await sample());
  return samples;
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
    const upstream = await collect(
      'upstream',
      sseSample(agent, `${stubOrigin}/v1/completions`, jsonHeaders, wireStreamBody, 'data: '),
    );
    const proxy = await collect(
      'raw proxy',
      sseSample(agent, `${proxyOrigin}/v1/completions`, jsonHeaders, wireStreamBody, 'data: '),
    );
    const sseOnGraphql = await collect(
      'service, SSE on /graphql',
      sseSample(agent, `${serviceOrigin}/graphql`, sseHeaders, streamBody(), 'event: next'),
    );
    const bareYoga = await collect(
      'bare graphql-yoga (reference)',
      sseSample(agent, `${bareYogaOrigin}/graphql`, sseHeaders, streamBody(), 'event: next'),
    );
    // (d) is a bonus: when graphql-ws fails, the row says so and the other variants still count.
    let wsFailure = '';
    const graphqlWs = await collect('service, graphql-ws', ws.sample).catch((error: unknown) => {
      wsFailure = describeClose(error);
      log(`first event: graphql-ws failed: ${wsFailure}`);
      return [Number.NaN];
    });

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
