/**
 * Writes that finish after the response went out (ledger entries, settlement retries). Shutdown
 * drains them before storage and Redis close, so a paid call is never lost on the way out.
 */
export class PendingWrites {
  // A count, not a set of promises: tracking is on every paid call's path, and a settled write
  // needs no more than one shared callback (no promise chain, closure or set entry of its own).
  private running = 0;
  private readonly idle: (() => void)[] = [];
  private readonly sleepers = new Set<() => void>();
  private draining = false;
  private readonly settled = () => {
    this.running--;
    if (this.running === 0) for (const wake of this.idle.splice(0)) wake();
  };

  track(work: Promise<unknown>): void {
    this.running++;
    work.then(this.settled, this.settled);
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
    return this.running;
  }

  /** Waits for everything tracked, including work tracked while waiting. */
  async drain(): Promise<void> {
    this.draining = true;
    for (const wake of [...this.sleepers]) wake();
    while (this.running > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
  }
}
