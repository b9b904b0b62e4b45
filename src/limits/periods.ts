// Calendar periods in a named timezone: which day and month an instant falls in, and the instant
// the next one starts (DST-aware). Intl gives wall-clock parts; the start instant is found by
// correcting a UTC guess with the zone's offset at that guess, twice (enough across a DST change).

import { wallClock, type WallClock } from '../clock';

/** The wall clock read as if it were UTC: the difference from the instant is the zone's offset. */
function wallClockAsUtc(ms: number, timeZone: string): number {
  const t = wallClock(ms, timeZone);
  return Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second);
}

/** The instant local midnight starts on the given local date. */
function startOfLocalDay(date: Pick<WallClock, 'year' | 'month' | 'day'>, timeZone: string): number {
  const guess = Date.UTC(date.year, date.month - 1, date.day);
  let instant = guess;
  for (let i = 0; i < 2; i++) {
    const offset = wallClockAsUtc(instant, timeZone) - instant;
    instant = guess - offset;
  }
  return instant;
}

const pad = (n: number) => String(n).padStart(2, '0');

export interface Period {
  /** Storage key, e.g. `day:2026-11-25`, `month:2026-11`. */
  key: string;
  resetsAt: number;
}

export function dayPeriod(now: number, timeZone: string): Period {
  const today = wallClock(now, timeZone);
  const tomorrow = new Date(Date.UTC(today.year, today.month - 1, today.day + 1));
  return {
    key: `day:${today.year}-${pad(today.month)}-${pad(today.day)}`,
    resetsAt: startOfLocalDay(
      { year: tomorrow.getUTCFullYear(), month: tomorrow.getUTCMonth() + 1, day: tomorrow.getUTCDate() },
      timeZone,
    ),
  };
}

export function monthPeriod(now: number, timeZone: string): Period {
  const today = wallClock(now, timeZone);
  const next =
    today.month === 12 ? { year: today.year + 1, month: 1 } : { year: today.year, month: today.month + 1 };
  return {
    key: `month:${today.year}-${pad(today.month)}`,
    resetsAt: startOfLocalDay({ ...next, day: 1 }, timeZone),
  };
}
