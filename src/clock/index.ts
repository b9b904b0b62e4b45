// Time is injected wherever limits, retries and expiry depend on it, so tests drive a clock
// instead of sleeping. `systemClock` is the real one; test/support has a manual clock.

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` after `ms` milliseconds of this clock's time; returns a function that cancels it. */
  schedule(fn: () => void, ms: number): () => void;
}

/** The longest delay a Node timer holds; a longer one fires at once (TimeoutOverflowWarning). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  schedule(fn, ms) {
    // A long wait (a 30-day expiry, a monthly quota reset) is taken in legs of at most MAX_TIMER_MS.
    const due = Date.now() + Math.max(0, ms);
    let timer: NodeJS.Timeout;
    const arm = () => {
      const left = due - Date.now();
      timer = setTimeout(left > MAX_TIMER_MS ? arm : fn, Math.min(Math.max(0, left), MAX_TIMER_MS));
      timer.unref?.();
    };
    arm();
    return () => clearTimeout(timer);
  },
};

export function isoTime(clock: Clock): string {
  return new Date(clock.now()).toISOString();
}

/** The wall-clock date and time of an instant in an IANA timezone. */
export interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export function wallClock(ms: number, timeZone: string): WallClock {
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
  return {
    year: get('year'),
    month: get('month'),
    day: get('day'),
    hour: get('hour'),
    minute: get('minute'),
    second: get('second'),
  };
}

const pad = (n: number) => String(n).padStart(2, '0');

/** Formats a time the way the provider writes it: `Y-m-d H:i:s` in the given IANA timezone. */
export function formatProviderTime(ms: number, timeZone: string): string {
  const t = wallClock(ms, timeZone);
  return `${t.year}-${pad(t.month)}-${pad(t.day)} ${pad(t.hour)}:${pad(t.minute)}:${pad(t.second)}`;
}

/** How far the wall clock in `timeZone` is ahead of UTC at an instant (ms; negative west of UTC). */
function zoneOffsetMs(ms: number, timeZone: string): number {
  const t = wallClock(ms, timeZone);
  return Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second) - Math.floor(ms / 1000) * 1000;
}

/**
 * Reads a provider time, `Y-m-d H:i:s` in the given IANA timezone, as an instant; undefined if it
 * is not in that form or names no real date (e.g. 02-30). The zone's offset is taken at a first
 * guess and then once more at the corrected instant, so a time just across a daylight-saving
 * change lands right; a wall-clock time skipped by the change comes out one hour later.
 */
export function parseProviderTime(text: string, timeZone: string): number | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const asUtc = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(asUtc);
  const real =
    check.getUTCFullYear() === year &&
    check.getUTCMonth() === month - 1 &&
    check.getUTCDate() === day &&
    hour < 24 &&
    minute < 60 &&
    second < 60;
  if (!real) return undefined;
  let instant = asUtc;
  for (let i = 0; i < 2; i++) instant = asUtc - zoneOffsetMs(instant, timeZone);
  return instant;
}
