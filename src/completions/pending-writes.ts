/**
 * Writes that finish after the response went out (ledger entries, settlement retries). Shutdown
 * drains them before storage and Redis close, so a paid call is never lost on the way out.
 */
export class PendingWrites {
  private readonly running = new Set<Promise<unknown>>();
  private readonly sleepers = new Set<() => void>();
  private draining = false;

  track(work: Promise<unknown>): void {
    const tracked = work.catch(() => undefined).finally(() => this.running.delete(tracked));
    this.running.add(tracked);
  }

  /** A pause between retries; cut short when draining, so shutdown retries at once instead of waiting. */
  pause(ms: number): Promise<void> {
    if (this.draining) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      timer.unref();
      this.sleepers.add(wake);
    });
  }

  get size(): number {
    return this.running.size;
  }

  /** Waits for everything tracked, including work tracked while waiting. */
  async drain(): Promise<void> {
    this.draining = true;
    for (const wake of [...this.sleepers]) wake();
    while (this.running.size > 0) await Promise.all([...this.running]);
  }
}
