/**
 * A deployment's own budget (requests and estimated tokens per minute), kept by this instance: a
 * token bucket that refills continuously. A call that does not fit is not waited for; the router
 * skips the deployment and tries the next one.
 */
export class RateBucket {
  private level: number;
  private updatedAt: number;
  private readonly perMs: number;

  constructor(
    readonly perMinute: number,
    private readonly now: () => number,
  ) {
    this.level = perMinute;
    this.updatedAt = now();
    this.perMs = perMinute / 60_000;
  }

  private refill(): void {
    const at = this.now();
    this.level = Math.min(this.perMinute, this.level + (at - this.updatedAt) * this.perMs);
    this.updatedAt = at;
  }

  /**
   * Takes `amount` when it fits. One call larger than the whole minute's budget would never fit,
   * so it may go when the bucket is full and leaves it in debt instead.
   */
  tryTake(amount: number): boolean {
    this.refill();
    if (this.level < amount && this.level < this.perMinute) return false;
    this.level -= amount;
    return true;
  }

  /** Gives back (positive) or takes more (negative) once the real figure is known. */
  adjust(amount: number): void {
    this.refill();
    this.level = Math.min(this.perMinute, this.level + amount);
  }

  remaining(): number {
    this.refill();
    return Math.max(0, Math.floor(this.level));
  }

  /** How long until `amount` fits (0 when it does now). */
  waitMs(amount: number): number {
    this.refill();
    const missing = Math.min(amount, this.perMinute) - this.level;
    return missing <= 0 ? 0 : Math.ceil(missing / this.perMs);
  }
}
