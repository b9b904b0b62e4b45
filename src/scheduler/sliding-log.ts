/**
 * An exact sliding-log limiter: at most `limit` admissions in any rolling `windowMs`. A fixed
 * window would let up to twice the limit through across a window edge; this keeps the times of
 * the last `limit` admissions and admits a call only once the oldest is a full window old.
 */
export class SlidingLog {
  private readonly times: number[];
  private next = 0;
  private filled = 0;

  constructor(
    readonly limit: number,
    readonly windowMs: number,
  ) {
    this.times = new Array<number>(limit).fill(0);
  }

  /** Admits a call at `now` and returns 0, or returns how many ms until one can be admitted. */
  tryAcquire(now: number): number {
    const wait = this.waitMs(now);
    if (wait > 0) return wait;
    this.times[this.next] = now;
    this.next = (this.next + 1) % this.limit;
    this.filled = Math.min(this.filled + 1, this.limit);
    return 0;
  }

  waitMs(now: number): number {
    if (this.filled < this.limit) return 0;
    const oldest = this.times[this.next] ?? 0;
    // Strictly after oldest + window, so a window closed at both ends never holds limit + 1.
    return Math.max(0, oldest + this.windowMs + 1 - now);
  }
}
