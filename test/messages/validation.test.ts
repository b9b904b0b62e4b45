import { ApiError } from '../../src/http';
import { chooseSender, measureText, normaliseRecipients } from '../../src/messages';
import { testConfig } from '../support/gateway';

const tenant = testConfig().tenants.alpha!;

function errorOf(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected an ApiError');
}

describe('segment counting (GSM-7 / UCS-2)', () => {
  it.each([
    ['a'.repeat(160), 'GSM-7', 1],
    ['a'.repeat(161), 'GSM-7', 2],
    ['a'.repeat(306), 'GSM-7', 2],
    ['a'.repeat(307), 'GSM-7', 3],
    ['ж'.repeat(70), 'UCS-2', 1],
    ['ж'.repeat(71), 'UCS-2', 2],
    ['ж'.repeat(134), 'UCS-2', 2],
    ['ж'.repeat(135), 'UCS-2', 3],
    ['€'.repeat(80), 'GSM-7', 1],
    ['€'.repeat(81), 'GSM-7', 2],
    ['a'.repeat(918), 'GSM-7', 6],
    ['ж'.repeat(402), 'UCS-2', 6],
  ])('%#: %s chars → %s, %i segment(s)', (text, encoding, segments) => {
    expect(measureText(text)).toMatchObject({ encoding, segments });
  });

  it('one emoji switches the whole text to UCS-2 and counts two units', () => {
    expect(measureText(`${'a'.repeat(68)}😀`)).toEqual({ encoding: 'UCS-2', segments: 1, length: 70 });
    expect(measureText(`${'a'.repeat(69)}😀`)).toMatchObject({ encoding: 'UCS-2', segments: 2 });
  });

  it('refuses text over the provider maximum, naming the limit', () => {
    expect(errorOf(() => measureText('a'.repeat(919))).description).toBe(
      'text: at most 918 GSM-7 characters, got 919',
    );
    expect(errorOf(() => measureText('ж'.repeat(403))).description).toBe(
      'text: at most 402 UCS-2 characters (the text has non-GSM characters), got 403',
    );
  });
});

describe('recipients', () => {
  it('normalises local and international forms to E.164 and drops duplicates', () => {
    expect(
      normaliseRecipients(['0412 345 678', '+61412345678', '(04) 1234-5679'], tenant, 'AU', 1000),
    ).toEqual(['+61412345678', '+61412345679']);
  });

  it('lists every invalid recipient with its index', () => {
    const error = errorOf(() => normaliseRecipients(['0412345678', '+6140', 'hello'], tenant, 'AU', 1000));
    expect(error.code).toBe('RECIPIENTS_ERROR');
    expect(error.description).toBe(
      "to[1]: '+6140' is not a valid phone number; to[2]: 'hello' is not a valid phone number",
    );
  });

  it('refuses a country the tenant may not send to with FORBIDDEN', () => {
    const error = errorOf(() => normaliseRecipients('+4915112345678', tenant, 'AU', 1000));
    expect(error.code).toBe('FORBIDDEN');
    expect(error.description).toMatch(/^to: DE is not an allowed country for this tenant \(allowed: AU\)/);
  });
});

describe('sender ids', () => {
  it('accepts the provider rules and falls back to the tenant default', () => {
    expect(chooseSender(undefined, { ...tenant, defaultSender: 'Acme' })).toBe('Acme');
    expect(chooseSender('Acme Co-op', tenant)).toBe('Acme Co-op');
    expect(chooseSender('1234567890123456', tenant)).toBe('1234567890123456');
  });

  it.each(['Twelve chars', '12345678901234567', 'Acme!', 'Ünïcode'])('refuses %s', (from) => {
    expect(errorOf(() => chooseSender(from, tenant)).code).toBe('FIELD_INVALID');
  });
});
