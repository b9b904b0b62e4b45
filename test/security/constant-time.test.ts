import { equalsConstantTime } from '../../src/security';

describe('equalsConstantTime', () => {
  it('is true only for the same text', () => {
    expect(equalsConstantTime('Bearer metrics-token-0123', 'Bearer metrics-token-0123')).toBe(true);
    expect(equalsConstantTime('Bearer metrics-token-0123', 'Bearer metrics-token-0124')).toBe(false);
    expect(equalsConstantTime('', '')).toBe(true);
  });

  it('answers false, without throwing, when the lengths differ (a prefix, an empty or a longer value)', () => {
    expect(equalsConstantTime('callback-token', 'callback-tok')).toBe(false);
    expect(equalsConstantTime('callback-token', '')).toBe(false);
    expect(equalsConstantTime('', 'callback-token')).toBe(false);
    expect(equalsConstantTime('callback-token', 'callback-token-and-more')).toBe(false);
  });

  it('compares the text, not its bytes in another encoding: é precomposed is not e + combining accent', () => {
    expect(equalsConstantTime('caf\u00e9', 'caf\u00e9')).toBe(true);
    expect(equalsConstantTime('caf\u00e9', 'cafe\u0301')).toBe(false);
    // Same UTF-16 length, different UTF-8 bytes.
    expect(equalsConstantTime('\u00e9', 'e')).toBe(false);
  });
});
