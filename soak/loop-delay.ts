/**
 * The service's event-loop delay over a window, with the soak's own forced GCs left out: the
 * harness collects garbage on purpose to read a settled RSS, and that pause is not the service's.
 * A 10 ms timer measures how late it fires (as `monitorEventLoopDelay` does); a lateness that
 * overlaps a forced GC is not counted. GC pauses the service made itself are counted beside it.
 */
import { createHistogram, PerformanceObserver } from 'node:perf_hooks';

const tickMs = 10;

export interface LoopDelayWindow {
  maxMs: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  /** Delays left out because they overlapped a forced GC, and the longest forced GC. */
  forcedGc: { count: number; longestMs: number };
  /** The collector's own pauses (forced ones included): a long delay that matches one is GC. */
  gc: { count: number; over50Ms: number; longestMs: number };
}

export function watchLoopDelay() {
  const histogram = createHistogram();
  const forced: [number, number][] = [];
  const forcedGc = { count: 0, longestMs: 0 };
  const gc = { count: 0, over50Ms: 0, longestMs: 0 };
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    const delay = Math.max(0, now - last - tickMs);
    const overlapsForced = forced.some(([start, end]) => start < now && end > last);
    last = now;
    if (!overlapsForced) histogram.record(Math.max(1, Math.round(delay * 1000)));
    forced.splice(0, forced.length - 4);
  }, tickMs).unref();
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gc.count++;
      if (entry.duration > 50) gc.over50Ms++;
      gc.longestMs = Math.max(gc.longestMs, entry.duration);
    }
  }).observe({ entryTypes: ['gc'] });

  return {
    /** Runs a GC the soak asked for, kept out of the delays. */
    forceGc(run: () => void): void {
      const start = performance.now();
      run();
      const end = performance.now();
      forced.push([start, end]);
      forcedGc.count++;
      forcedGc.longestMs = Math.max(forcedGc.longestMs, end - start);
    },
    /** The window since the previous call (the first call opens it). */
    take(): LoopDelayWindow {
      const ms = (us: number) => us / 1000;
      const window: LoopDelayWindow = {
        maxMs: ms(histogram.count === 0 ? 0 : histogram.max),
        p50Ms: ms(histogram.percentile(50)),
        p99Ms: ms(histogram.percentile(99)),
        p999Ms: ms(histogram.percentile(99.9)),
        forcedGc: { ...forcedGc },
        gc: { ...gc },
      };
      histogram.reset();
      Object.assign(forcedGc, { count: 0, longestMs: 0 });
      Object.assign(gc, { count: 0, over50Ms: 0, longestMs: 0 });
      return window;
    },
  };
}
