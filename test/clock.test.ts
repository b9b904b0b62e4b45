import { formatProviderTime, parseProviderTime, systemClock } from '../src/clock';
import { ManualClock } from './support/manual-clock';

describe('formatProviderTime', () => {
  it('writes Y-m-d H:i:s in the provider timezone, following daylight saving', () => {
    expect(formatProviderTime(Date.parse('2027-01-15T03:04:05Z'), 'Australia/Sydney')).toBe(
      '2027-01-15 14:04:05',
    );
    expect(formatProviderTime(Date.parse('2027-07-15T03:04:05Z'), 'Australia/Sydney')).toBe(
      '2027-07-15 13:04:05',
    );
    expect(formatProviderTime(Date.parse('2027-07-15T23:59:59Z'), 'UTC')).toBe('2027-07-15 23:59:59');
  });
});

describe('ManualClock', () => {
  it('runs scheduled callbacks in time order only when advanced past them', () => {
    const clock = new ManualClock(0);
    const ran: string[] = [];
    clock.schedule(() => ran.push('b'), 20);
    const cancel = clock.schedule(() => ran.push('x'), 5);
    clock.schedule(() => ran.push('a'), 10);
    cancel();
    clock.advance(15);
    expect(ran).toEqual(['a']);
    clock.advance(5);
    expect(ran).toEqual(['a', 'b']);
    expect(clock.now()).toBe(20);
  });
});

describe('parseProviderTime', () => {
  it('reads Y-m-d H:i:s in the provider timezone back to the instant formatProviderTime wrote', () => {
    for (const iso of ['2027-01-15T03:04:05Z', '2027-07-15T03:04:05Z', '2026-11-25T00:00:00Z']) {
      const ms = Date.parse(iso);
      expect(parseProviderTime(formatProviderTime(ms, 'Australia/Sydney'), 'Australia/Sydney')).toBe(ms);
      expect(parseProviderTime(formatProviderTime(ms, 'America/New_York'), 'America/New_York')).toBe(ms);
    }
    expect(parseProviderTime('2027-07-15 23:59:59', 'UTC')).toBe(Date.parse('2027-07-15T23:59:59Z'));
  });

  it('follows daylight saving on both sides of a change (Sydney, 2027-04-04 03:00 AEDT → 02:00 AEST)', () => {
    expect(parseProviderTime('2027-04-03 12:00:00', 'Australia/Sydney')).toBe(
      Date.parse('2027-04-03T01:00:00Z'),
    );
    expect(parseProviderTime('2027-04-05 12:00:00', 'Australia/Sydney')).toBe(
      Date.parse('2027-04-05T02:00:00Z'),
    );
  });

  it('refuses what is not Y-m-d H:i:s or names no real date and time', () => {
    for (const text of [
      '2026-02-30 10:00:00',
      '2026-13-01 10:00:00',
      '2026-11-25 24:00:00',
      '2026-11-25T10:00:00',
      '2026-11-25 10:00',
    ])
      expect(parseProviderTime(text, 'Australia/Sydney')).toBeUndefined();
  });
});

describe('systemClock', () => {
  afterEach(() => jest.useRealTimers());

  it('waits the whole delay when it is longer than a timer can hold (2^31 − 1 ms)', () => {
    jest.useFakeTimers();
    const fired = jest.fn();
    const thirtyDays = 30 * 24 * 3600 * 1000;
    systemClock.schedule(fired, thirtyDays);
    jest.advanceTimersByTime(1_000);
    expect(fired).not.toHaveBeenCalled();
    jest.advanceTimersByTime(thirtyDays - 2_000);
    expect(fired).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1_000);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it('cancels a long wait in any of its legs', () => {
    jest.useFakeTimers();
    const fired = jest.fn();
    const cancel = systemClock.schedule(fired, 2 ** 31 + 5_000);
    jest.advanceTimersByTime(2 ** 31);
    cancel();
    jest.advanceTimersByTime(10_000);
    expect(fired).not.toHaveBeenCalled();
  });
});
