// Calendar periods in a named timezone: which day and month an instant falls in, and the instant
// the next one starts (DST-aware). Intl gives wall-clock parts; the start instant is found by
// correcting a UTC guess with the zone's offset at that guess, twice (enough across a DST change).

interface WallClock {
  year: number;
  month: number;
  day: number;
}

function wallClock(ms: number, timeZone: string): WallClock & { asUtc: number } {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(ms));
  const get = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const [year, month, day] = [get('year'), get('month'), get('day')];
  return {
    year,
    month,
    day,
    asUtc: Date.UTC(year, month - 1, day, get('hour'), get('minute'), get('second')),
  };
}

/** The instant local midnight starts on the given local date. */
function startOfLocalDay(date: WallClock, timeZone: string): number {
  const guess = Date.UTC(date.year, date.month - 1, date.day);
  let instant = guess;
  for (let i = 0; i < 2; i++) {
    const offset = wallClock(instant, timeZone).asUtc - instant;
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
