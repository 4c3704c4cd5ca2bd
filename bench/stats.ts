/** Small measuring tools: percentiles, a bounded-concurrency runner, a stopwatch, rounding. */

export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

/** Runs `task` `total` times, at most `concurrency` at once; resolves with each call's duration in ms. */
export async function runConcurrent(
  total: number,
  concurrency: number,
  task: (i: number) => Promise<unknown>,
): Promise<number[]> {
  const durations: number[] = [];
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      const started = performance.now();
      await task(i);
      durations.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  return durations;
}

export interface Throughput {
  /** Client-process CPU (user + system) per call, µs. */
  cpuMicros: number;
  perSecond: number;
  latencies: number[];
}

/** Runs the calls and reports this process's CPU per call and the calls per second. */
export async function measureThroughput(
  total: number,
  concurrency: number,
  task: (i: number) => Promise<unknown>,
): Promise<Throughput> {
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const latencies = await runConcurrent(total, concurrency, task);
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  return { cpuMicros: (cpu.user + cpu.system) / total, perSecond: total / seconds, latencies };
}

export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns true or `timeoutMs` passes; resolves with the last answer. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (performance.now() > deadline) return false;
    await sleep(50);
  }
}

export function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}
