/** The service's memory, read over IPC: settled readings (after a forced GC) and a timeline. */
import type { BenchChild } from '../bench/children.js';
import { client } from './config.js';

export interface Memory {
  rss: number;
  heapUsed: number;
  /** C++ objects bound to JS, Buffers included. */
  external: number;
  arrayBuffers: number;
}

export interface TimelinePoint extends Memory {
  /** Seconds since the clients started. */
  at: number;
  requests: number;
  /** The service's longest event-loop delay since the previous point, ms. */
  loopDelayMs: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function read(service: BenchChild): Promise<Memory> {
  const { rss, heapUsed, external, arrayBuffers } = await service.rpc<Memory>('memory');
  return { rss, heapUsed, external, arrayBuffers };
}

/** RSS and heap after a forced GC, a settle, and another GC; `gc` says whether GC was available. */
export async function settledMemory(service: BenchChild): Promise<Memory & { gc: boolean }> {
  const gc = await service.rpc<boolean>('gc');
  await sleep(client.settleMs);
  await service.rpc('gc');
  return { ...(await read(service)), gc };
}

/** Reads the service's memory every `everyMs` (no GC) until stopped. */
export function sampleTimeline(service: BenchChild, requests: () => number, everyMs = 2_000) {
  const started = performance.now();
  const points: TimelinePoint[] = [];
  const timer = setInterval(() => {
    const at = (performance.now() - started) / 1000;
    const count = requests();
    Promise.all([read(service), service.rpc<number>('loopDelay')]).then(
      ([memory, loopDelayMs]) => points.push({ at, requests: count, loopDelayMs, ...memory }),
      () => {},
    );
  }, everyMs);
  return {
    points,
    stop: () => clearInterval(timer),
    peak: () => Math.max(0, ...points.map((point) => point.rss)),
  };
}
