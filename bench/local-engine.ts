/**
 * Benchmark of the embedded local engine: first build, cached load, memory, generation speed and
 * event-loop delay. Run directly (`npx tsx bench/local-engine.ts`) or through `bench/index.ts`.
 * Cached load and RSS are measured in a fresh child process, so the build's garbage and the
 * parent's other work do not flatter or spoil them.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createLocalProvider, type LocalProvider } from '../src/local/provider.js';

export interface BenchRow {
  metric: string;
  value: number;
  unit: string;
  target: string;
  pass: boolean;
}

const CHILD_ENV = 'LOCAL_ENGINE_BENCH_LOAD_DIR';

/** In the child: load from the cache, then report load time, RSS and event-loop delay as JSON. */
async function childLoad(cacheDir: string): Promise<void> {
  const started = performance.now();
  const provider = await createLocalProvider({ cacheDir });
  const millis = performance.now() - started;
  const result: ChildResult = {
    source: provider.loadInfo.source,
    millis,
    readMillis: provider.loadInfo.millis,
    // performance.now() counts from process start: Node + tsx boot + imports + load.
    coldStartMillis: started + millis,
    rss: process.memoryUsage().rss,
    loopDelayMillis: await maxLoopDelay(provider),
  };
  process.stdout.write(JSON.stringify(result));
}

interface ChildResult {
  source: string;
  /** createLocalProvider: read + check the cache, then the JIT warm-up request. */
  millis: number;
  /** Reading and checking the cache file alone. */
  readMillis: number;
  coldStartMillis: number;
  rss: number;
  loopDelayMillis: number;
}

async function measureInChild(cacheDir: string): Promise<ChildResult> {
  const self = fileURLToPath(import.meta.url);
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', self], {
    env: { ...process.env, [CHILD_ENV]: cacheDir },
    cwd: join(fileURLToPath(new URL('.', import.meta.url)), '..'),
  });
  return JSON.parse(stdout) as ChildResult;
}

async function tokensPerSecond(
  provider: LocalProvider,
  temperature: number,
  total: number,
  topP = 1,
): Promise<number> {
  const n = 10;
  const started = performance.now();
  const { response } = await provider.complete({
    model: provider.modelId,
    prompt: 'The',
    max_tokens: Math.ceil(total / n),
    n,
    temperature,
    top_p: topP,
    seed: 1,
  });
  const seconds = (performance.now() - started) / 1000;
  return (response.usage?.completion_tokens ?? 0) / seconds;
}

async function maxLoopDelay(provider: LocalProvider): Promise<number> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  await provider.complete({
    model: provider.modelId,
    prompt: 'The',
    max_tokens: 2000,
    n: 4,
    logprobs: 5,
    seed: 2,
  });
  histogram.disable();
  return histogram.max / 1e6;
}

/**
 * Longest event-loop delay while the engine takes a prompt that is costly to tokenize. The
 * histogram gets a few turns first: a block that started in the same turn would go unseen.
 */
async function promptLoopDelay(provider: LocalProvider, prompt: string): Promise<number> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  await new Promise((resolve) => setTimeout(resolve, 20));
  await provider
    .complete({ model: provider.modelId, prompt, max_tokens: 16, seed: 3 })
    .catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 20));
  histogram.disable();
  return histogram.max / 1e6;
}

const CJK = '我们的文化历史悠久中国人民勤劳勇敢';

export async function runLocalEngineBench(): Promise<BenchRow[]> {
  const cacheDir = await mkdtemp(join(tmpdir(), 'local-engine-bench-'));
  try {
    const buildStart = performance.now();
    const provider = await createLocalProvider({ cacheDir });
    const buildMs = performance.now() - buildStart;
    const child = await measureInChild(cacheDir);
    const greedy = await tokensPerSecond(provider, 0, 20_000);
    const sampled = await tokensPerSecond(provider, 1, 20_000);
    const nucleus = await tokensPerSecond(provider, 1, 20_000, 0.9);
    // One unspaced run: a single pre-token, the worst case of byte-pair merging. The first is
    // refused by its length alone; the second (1,909 tokens) is tokenized, and builds the byte table.
    const megabyteCjk = await promptLoopDelay(provider, CJK.repeat(Math.ceil(2 ** 20 / 3 / CJK.length)));
    const longCjkRun = await promptLoopDelay(
      provider,
      CJK.repeat(Math.ceil(1400 / CJK.length)).slice(0, 1400),
    );
    const row = (metric: string, value: number, unit: string, target: string, pass: boolean): BenchRow => ({
      metric,
      value: Math.round(value * 10) / 10,
      unit,
      target,
      pass,
    });
    const delay = child.loopDelayMillis;
    const ready = child.source === 'cache' && child.millis <= 1000;
    return [
      row('local engine: first build (fresh cache)', buildMs, 'ms', '<= 10000', buildMs <= 10_000),
      row('local engine: cached load incl. warm-up (new process)', child.millis, 'ms', '<= 1000', ready),
      row('local engine: cache file read alone', child.readMillis, 'ms', '-', true),
      row('local engine: process start to model ready', child.coldStartMillis, 'ms', '-', true),
      row(
        'local engine: RSS after load (new process)',
        child.rss / 2 ** 20,
        'MiB',
        '<= 400',
        child.rss <= 400 * 2 ** 20,
      ),
      row('local engine: greedy generation', greedy, 'tokens/s', '>= 5000', greedy >= 5000),
      row('local engine: temperature 1 generation', sampled, 'tokens/s', '>= 5000', sampled >= 5000),
      row(
        'local engine: temperature 1, top_p 0.9 generation',
        nucleus,
        'tokens/s',
        '>= 5000',
        nucleus >= 5000,
      ),
      row('local engine: max event-loop delay, 2000 tok x 4, logprobs 5', delay, 'ms', '<= 10', delay <= 10),
      row(
        'local engine: max event-loop delay, 1 MiB CJK prompt (refused)',
        megabyteCjk,
        'ms',
        '<= 10',
        megabyteCjk <= 10,
      ),
      row(
        'local engine: max event-loop delay, 1,400-char CJK run prompt',
        longCjkRun,
        'ms',
        '<= 10',
        longCjkRun <= 10,
      ),
    ];
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
  }
}

const childDir = process.env[CHILD_ENV];
if (childDir !== undefined) {
  await childLoad(childDir);
} else if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rows = await runLocalEngineBench();
  console.table(rows);
  process.exitCode = rows.every((r) => r.pass) ? 0 : 1;
}
