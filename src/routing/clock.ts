/**
 * Time as the router sees it: injected so tests decide when deadlines pass and budgets refill,
 * with no sleeps and no wall-clock bounds.
 */
export interface RouterClock {
  now(): number;
  /** Runs `fire` after `ms`; the returned function cancels it. Must not keep the process alive. */
  setTimer(fire: () => void, ms: number): () => void;
}

export const systemClock: RouterClock = {
  now: () => Date.now(),
  setTimer(fire, ms) {
    const timer = setTimeout(fire, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};
