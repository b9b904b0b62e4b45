import { ApiError } from '../../src/http';
import {
  chooseSender,
  measureText,
  normaliseRecipients,
  normaliseRecipientsIncrementally,
  parseSendRequest,
} from '../../src/messages';
import { SegmentedMessage } from 'sms-segments-calculator';
import { getCountries, getExampleNumber, parsePhoneNumberFromString } from 'libphonenumber-js/max';
import examples from 'libphonenumber-js/examples.mobile.json';
import { NUMBER_TYPES } from '../../src/config';
import { testConfig } from '../support/gateway';
import { countTurns } from '../support/wait';

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

  // Within the length limits but over six segments: an extension character (€) is never split
  // from its escape, and an emoji (two UCS-2 units) never split across a segment boundary.
  it.each([
    ['459 euro signs (918 septets)', '€'.repeat(459)],
    ['918 septets with a euro sign at the end of the first segment', `${'a'.repeat(152)}€${'a'.repeat(764)}`],
    ['201 emoji (402 UCS-2 units)', '😀'.repeat(201)],
  ])('refuses %s: seven segments, over the documented six', (_name, text) => {
    const error = errorOf(() => measureText(text));
    expect(error.code).toBe('FIELD_INVALID');
    expect(error.description).toBe('text: at most 6 SMS segments, got 7');
  });
});

// Plain GSM-7 text (ASCII letters, digits, GSM punctuation) is counted without the library; the
// count must be the library's for every such text, of every length up to the maximum.
describe('counting plain GSM-7 text without the segment library', () => {
  const alphabet = 'ABCxyz0189 !"#%&\'()*+,-./:;<=>?@$_';
  // A seeded generator (mulberry32), so a failure names a text that can be replayed.
  let seed = 0x5eed;
  const random = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const texts = Array.from({ length: 918 }, (_, i) =>
    Array.from({ length: i + 1 }, () => alphabet[Math.floor(random() * alphabet.length)]).join(''),
  );

  it("gives the library's encoding, length and segments for plain texts of 1 to 918 characters", () => {
    for (const text of texts) {
      const library = new SegmentedMessage(text);
      expect({ text, ...measureText(text) }).toEqual({
        text,
        encoding: library.encodingName,
        length: library.numberOfCharacters,
        segments: library.segmentsCount,
      });
    }
  });
});

describe('the send request body', () => {
  it('names a misspelt field as unknown rather than reporting the real one missing', () => {
    const error = errorOf(() => parseSendRequest({ to: '0412345678', mesage: 'hi' }));
    expect(error.code).toBe('FIELD_INVALID');
    expect(error.description).toBe('mesage: unknown field');
  });

  it('names every unknown field', () => {
    expect(
      errorOf(() => parseSendRequest({ to: '0412345678', text: 'hi', tenant: 'b', x: 1 })).description,
    ).toBe('tenant: unknown field; x: unknown field');
  });
});

describe('recipients', () => {
  it('a thousand numbers are parsed a slice at a time, yielding to the event loop, with the same answer', async () => {
    const list = Array.from({ length: 1000 }, (_, i) => `04${String(12_000_000 + i)}`);
    // Every slice asks for a turn; this one always gives a turn of its own (the shared one may
    // run several slices in one turn, by time: test/scheduler/cpu-turns.test.ts).
    let asked = 0;
    const turnEach = {
      next: () => new Promise<void>((resolve) => setImmediate(() => resolve(void asked++))),
    };
    const counter = countTurns();
    const numbers = await normaliseRecipientsIncrementally(list, tenant, 'AU', 1000, turnEach);
    counter.stop();
    expect(numbers).toEqual(normaliseRecipients(list, tenant, 'AU', 1000));
    expect(numbers).toHaveLength(1000);
    // One turn asked for before each slice of 64, and other work ran in them.
    expect(asked).toBe(Math.ceil(1000 / 64));
    expect(counter.turns).toBeGreaterThanOrEqual(15);
    const bad = [...list.slice(0, 500), 'hello', ...list.slice(500, 998)];
    await expect(normaliseRecipientsIncrementally(bad, tenant, 'AU', 1000)).rejects.toMatchObject({
      code: 'RECIPIENTS_ERROR',
      description: "to[500]: 'hello' is not a valid phone number",
    });
  });

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

  it('accepts the international prefix written as 00', () => {
    expect(normaliseRecipients(['0061 412 345 678', '0061412345679'], tenant, 'AU', 1000)).toEqual([
      '+61412345678',
      '+61412345679',
    ]);
    expect(normaliseRecipients('0011 61 412 345 678', tenant, 'AU', 1000)).toEqual(['+61412345678']);
  });

  it('refuses numbers that are not mobiles by default: landline, premium rate, shared cost', () => {
    const error = errorOf(() =>
      normaliseRecipients(
        ['0412345678', '02 9374 4000', '+61 1900 123 456', '1902 123 456', '1300 123 456'],
        tenant,
        'AU',
        1000,
      ),
    );
    expect(error.code).toBe('RECIPIENTS_ERROR');
    expect(error.description).toBe(
      [
        "to[1]: '02 9374 4000' is a fixed_line number; this tenant may send only to mobile, fixed_line_or_mobile numbers",
        "to[2]: '+61 1900 123 456' is a premium_rate number; this tenant may send only to mobile, fixed_line_or_mobile numbers",
        "to[3]: '1902 123 456' is a premium_rate number; this tenant may send only to mobile, fixed_line_or_mobile numbers",
        "to[4]: '1300 123 456' is a shared_cost number; this tenant may send only to mobile, fixed_line_or_mobile numbers",
      ].join('; '),
    );
  });

  it('accepts a US number that may be either (fixed_line_or_mobile) by default', () => {
    expect(
      normaliseRecipients('+1 541 754 3010', { ...tenant, allowedCountries: ['US'] }, 'AU', 1000),
    ).toEqual(['+15417543010']);
  });

  it('lets a tenant widen the number types it sends to', () => {
    const widened = { ...tenant, numberTypes: ['mobile', 'fixed_line'] as typeof tenant.numberTypes };
    expect(normaliseRecipients(['02 9374 4000', '0412345678'], widened, 'AU', 1000)).toEqual([
      '+61293744000',
      '+61412345678',
    ]);
    expect(errorOf(() => normaliseRecipients('1902 123 456', widened, 'AU', 1000)).description).toBe(
      "to: '1902 123 456' is a premium_rate number; this tenant may send only to mobile, fixed_line numbers",
    );
  });

  it('reads tenants.<id>.numberTypes from config, mobile and fixed_line_or_mobile by default', () => {
    expect(tenant.numberTypes).toEqual(['mobile', 'fixed_line_or_mobile']);
    const config = testConfig({ tenants: { landline: { numberTypes: ['mobile', 'fixed_line'] } } });
    expect(config.tenants.landline!.numberTypes).toEqual(['mobile', 'fixed_line']);
    expect(() => testConfig({ tenants: { odd: { numberTypes: ['satellite'] } } })).toThrow(/numberTypes/);
  });

  it("gives every number the verdict of libphonenumber's isValid() then getType(), though it asks the type first", () => {
    // Every country's example mobile, one digit short, one digit long, written with 00, and its
    // last digits read as an Australian national number.
    const corpus = getCountries().flatMap((country) => {
      const example = getExampleNumber(country, examples)?.number;
      if (!example) return [];
      return [
        example,
        example.slice(0, -1),
        `${example}5`,
        example.replace('+', '00'),
        `0${example.slice(4)}`,
      ];
    });
    expect(corpus.length).toBeGreaterThan(1000);
    const open = { ...tenant, numberTypes: [...NUMBER_TYPES], allowedCountries: getCountries() };
    const verdict = (raw: string): string => {
      try {
        return normaliseRecipients(raw, open, 'AU', 1000)[0]!;
      } catch (error) {
        return error instanceof ApiError ? error.description : String(error);
      }
    };
    // The order the checks were asked in before: isValid(), then getType() of a valid number.
    const askedInTurn = (raw: string): string => {
      const valid = (p: ReturnType<typeof parsePhoneNumberFromString>) => (p?.isValid() ? p : undefined);
      const international = /^\s*00\s*([1-9].*)$/.exec(raw);
      const phone =
        valid(parsePhoneNumberFromString(raw, 'AU')) ??
        (international ? valid(parsePhoneNumberFromString(`+${international[1]}`, 'AU')) : undefined);
      if (!phone) return `to: '${raw}' is not a valid phone number`;
      const type = phone.getType()?.toLowerCase();
      return type ? phone.number : `to: '${raw}' is not a known type of number; this tenant may send only to`;
    };
    const differing = corpus.filter((raw) => !verdict(raw).startsWith(askedInTurn(raw)));
    expect(differing).toEqual([]);
    // The corpus holds both verdicts.
    expect(corpus.filter((raw) => verdict(raw).startsWith('+')).length).toBeGreaterThan(400);
    expect(corpus.filter((raw) => verdict(raw).includes('not a valid phone number')).length).toBeGreaterThan(
      200,
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
