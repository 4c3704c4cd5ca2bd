/**
 * Spend counters: what a client spent in one budget window (micro-USD or tokens, whole numbers),
 * kept in the same store as the rate limits. `add` checks and adds in one step, so concurrent
 * calls — on several instances with Redis — cannot all pass a check that only one of them fits.
 */
export interface SpendStore {
  /**
   * Adds `amount` to the counter at `key` unless that would take it past `limit` (no limit: always
   * adds). Answers the counter after the add, or as it is when refused. The counter is forgotten
   * after `expiresAt` (ms since the epoch).
   */
  add(
    key: string,
    amount: number,
    limit: number | undefined,
    expiresAt: number,
  ): Promise<{ ok: boolean; spent: number }>;
  /** Corrects the counter once the real figure is known (negative: gives back); answers it after. */
  adjust(key: string, delta: number, expiresAt: number): Promise<number>;
}

/** One process's counters: enough without Redis, where each instance has its own budgets anyway. */
export function createMemorySpendStore(now: () => number = Date.now): SpendStore {
  const counters = new Map<string, { spent: number; expiresAt: number }>();
  let calls = 0;
  const current = (key: string) => {
    const entry = counters.get(key);
    if (entry === undefined || entry.expiresAt <= now()) return 0;
    return entry.spent;
  };
  const sweep = () => {
    const at = now();
    for (const [key, entry] of counters) if (entry.expiresAt <= at) counters.delete(key);
  };
  return {
    async add(key, amount, limit, expiresAt) {
      if (++calls % 1024 === 0) sweep();
      const spent = current(key);
      if (limit !== undefined && spent + amount > limit) return { ok: false, spent };
      counters.set(key, { spent: spent + amount, expiresAt });
      return { ok: true, spent: spent + amount };
    },
    async adjust(key, delta, expiresAt) {
      const spent = Math.max(0, current(key) + delta);
      counters.set(key, { spent, expiresAt });
      return spent;
    },
  };
}
