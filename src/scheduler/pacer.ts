/**
 * Paces grants with a small burst allowance: up to `burst` grants may go at once, and beyond them
 * one every `spacingMs`. Why pace at all: fifteen calls granted in the same millisecond leave the
 * host one after another and reach the provider with a spread that grows with the host's load, and
 * a burst of answers then lands on the event loop at once; paced calls leave one at a time. Why a
 * burst: a call that finds the budget idle (a quiet tenant's pair of sends) should not wait for the
 * next even slot, 70 ms away at the default cap. The sliding log, not the pacer, holds the cap; the
 * write gate (the margin) keeps arrivals as the provider counts them within it.
 *
 * This is the generic cell rate algorithm (GCRA), a token bucket kept as one number: `dueAt` is
 * when the next grant would be due if every grant so far had come exactly one spacing apart, and a
 * grant may go once it is no more than `burst - 1` spacings ahead. An idle budget therefore has
 * `burst` grants at hand; a backlog is served one per spacing; and a grant that came late (a timer
 * that fired late on a busy host, a Redis round trip) keeps the schedule as long as it is less than
 * `burst - 1` spacings late, so lateness does not add up. Time the log (or a pause) held calls back
 * is not idle time: see hold. Hand-rolled: it is four lines, and the
 * same four run inside the Redis script, which no library's limiter would share.
 */
export class Pacer {
  private dueAt = Number.NEGATIVE_INFINITY;
  private readonly aheadMs: number;

  constructor(
    readonly spacingMs: number,
    readonly burst = 1,
  ) {
    this.aheadMs = (Math.max(1, burst) - 1) * spacingMs;
  }

  /**
   * 0 when a grant may go now, else how many ms until one may. Less than 1 ms counts as due: the
   * clock counts whole milliseconds and no timer waits less, so a spacing under 1 ms (a cap in the
   * thousands a second) would otherwise hold every second call of a millisecond for a whole one.
   * A grant up to 1 ms early is harmless: the sliding log, not the pacer, holds the cap.
   */
  waitMs(now: number): number {
    const wait = this.dueAt - this.aheadMs - now;
    return wait < 1 ? 0 : Math.ceil(wait);
  }

  /**
   * Calls are held back until `until` by something else (the log is full, the budget is paused):
   * the allowance does not refill meanwhile, so one grant may go at `until` and the next a spacing
   * later. Otherwise a full log would release a burst of `burst` grants every window, and the log,
   * which remembers when each grant went, would keep that burst in every window after.
   */
  hold(until: number): void {
    this.dueAt = Math.max(this.dueAt, until + this.aheadMs);
  }

  /**
   * A grant went at `now`. One that came early (by under 1 ms, see waitMs) never pulls the schedule
   * forward; one less than 1 ms late keeps it (timers fire on whole milliseconds, so a paced grant
   * is up to 1 ms late by rounding alone, and that must not add up); a later one starts from itself.
   */
  record(now: number): void {
    this.dueAt = (this.dueAt > now - 1 ? this.dueAt : now) + this.spacingMs;
  }
}

/** Grants that may go at once after a lull, by default (`upstream.grantBurst`, whose default is this); see Pacer. */
export const DEFAULT_GRANT_BURST = 3;

/**
 * Even spacing for `limit` grants per window. The log admits the next window's first grant 1 ms
 * after the window (closed at both ends), so `limit` paced grants span exactly windowMs + 1.
 */
export function paceSpacing(limit: number, windowMs: number): number {
  return (windowMs + 1) / limit;
}
