import { formatProviderTime } from '../src/clock';
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
