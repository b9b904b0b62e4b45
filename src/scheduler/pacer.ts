/**
 * Spreads grants evenly instead of letting a full window go out in one burst. Fifteen calls
 * started in the same millisecond leave the host one after another and reach the provider with
 * a spread that grows with the host's load; paced calls leave one at a time, so each arrives
 * about as late as a lone call does. The sliding log, not the pacer, is what holds the cap.
 *
 * The next grant is due `spacingMs` after the previous one was due. A grant that comes late by
 * up to half a spacing (a timer that fired late, a Redis round trip) keeps that schedule, so such
 * lateness does not add up and the sustained rate stays one per `spacingMs`; a grant later than
 * that (after a lull) starts a new schedule from itself, so a lull is never made up by a burst.
 */
export class Pacer {
  private dueAt = Number.NEGATIVE_INFINITY;

  constructor(readonly spacingMs: number) {}

  /** 0 when a grant may go now, else how many ms until one may. */
  waitMs(now: number): number {
    return now >= this.dueAt ? 0 : Math.ceil(this.dueAt - now);
  }

  record(now: number): void {
    const onSchedule = now - this.dueAt <= this.spacingMs / 2;
    this.dueAt = (onSchedule ? this.dueAt : now) + this.spacingMs;
  }
}

/**
 * Even spacing for `limit` grants per window. The log admits the next window's first grant 1 ms
 * after the window (closed at both ends), so `limit` paced grants span exactly windowMs + 1.
 */
export function paceSpacing(limit: number, windowMs: number): number {
  return (windowMs + 1) / limit;
}
