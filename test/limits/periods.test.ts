import { dayPeriod, monthPeriod } from '../../src/limits';

const SYDNEY = 'Australia/Sydney';
const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe('quota periods in a timezone', () => {
  it('names the local day and month and when the next one starts (AEDT, UTC+11)', () => {
    const now = at('2026-11-25T00:00:00Z'); // 11:00 on the 25th in Sydney
    expect(dayPeriod(now, SYDNEY)).toEqual({ key: 'day:2026-11-25', resetsAt: at('2026-11-25T13:00:00Z') });
    expect(monthPeriod(now, SYDNEY)).toEqual({ key: 'month:2026-11', resetsAt: at('2026-11-30T13:00:00Z') });
  });

  it('uses the local date, not the UTC one', () => {
    expect(dayPeriod(at('2026-11-25T14:30:00Z'), SYDNEY).key).toBe('day:2026-11-26');
    expect(monthPeriod(at('2026-11-30T13:00:00Z'), SYDNEY).key).toBe('month:2026-12');
  });

  it('follows the end of daylight saving (first Sunday of April 2027)', () => {
    expect(iso(dayPeriod(at('2027-04-03T05:00:00Z'), SYDNEY).resetsAt)).toBe('2027-04-03T13:00:00.000Z'); // midnight AEDT
    expect(iso(dayPeriod(at('2027-04-04T05:00:00Z'), SYDNEY).resetsAt)).toBe('2027-04-04T14:00:00.000Z'); // midnight AEST
  });

  it('rolls the year over in December', () => {
    expect(monthPeriod(at('2026-12-15T00:00:00Z'), 'UTC')).toEqual({
      key: 'month:2026-12',
      resetsAt: at('2027-01-01T00:00:00Z'),
    });
  });
});
