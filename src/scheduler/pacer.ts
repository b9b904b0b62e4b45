/**
 * Spreads grants evenly instead of letting a full window go out in one burst. Fifteen calls
 * started in the same millisecond leave the host one after another and reach the provider with
 * a spread that grows with the host's load; paced calls leave one at a time, so each arrives
 * about as late as a lone call does. The sliding log, not the pacer, is what holds the cap.
 *
 * The next grant is due `spacingMs` after the previous one was due. While calls are waiting, a
 * grant that comes late (a timer that fired late on a busy host, a Redis round trip) keeps that
 * schedule, catching up by up to CATCH_UP_SLOTS spacings, so lateness does not add up and the
 * rate stays one per `spacingMs`. A grant nobody waited for (the first after a lull) starts a new
 * schedule from itself, so a lull is never made up by a burst.
 */
export const CATCH_UP_SLOTS = 2;

export class Pacer {
  private dueAt = Number.NEGATIVE_INFINITY;
  private waiting = false;

  constructor(readonly spacingMs: number) {}

  /**
   * 0 when a grant may go now, else how many ms until one may. Less than 1 ms counts as due: the
   * clock counts whole milliseconds and no timer waits less, so a spacing under 1 ms (a cap in the
   * thousands a second) would otherwise hold every second call of a millisecond for a whole one.
   * A grant up to 1 ms early is harmless: the sliding log, not the pacer, holds the cap.
   */
  waitMs(now: number): number {
    const wait = this.dueAt - now;
    return wait < 1 ? 0 : Math.ceil(wait);
  }

  /** A call was told to wait (by this pacer or by the log): the next grant is not after a lull. */
  noteWaiting(): void {
    this.waiting = true;
  }

  record(now: number): void {
    // A grant nobody waited for starts from itself, or from when it was due if it came early (by
    // under 1 ms, see waitMs): early grants never pull the schedule forward.
    const from = this.waiting
      ? Math.max(this.dueAt, now - CATCH_UP_SLOTS * this.spacingMs)
      : Math.max(this.dueAt, now);
    this.dueAt = from + this.spacingMs;
    this.waiting = false;
  }
}

/**
 * Even spacing for `limit` grants per window. The log admits the next window's first grant 1 ms
 * after the window (closed at both ends), so `limit` paced grants span exactly windowMs + 1.
 */
export function paceSpacing(limit: number, windowMs: number): number {
  return (windowMs + 1) / limit;
}
