import { getCountries, getExampleNumber, type CountryCode } from 'libphonenumber-js/max';
import examples from 'libphonenumber-js/examples.mobile.json';
import {
  cachedPatternCount,
  libphonenumberHelperFile,
  MAX_CACHED_PATTERNS,
  type MatchesEntirely,
  parsePhoneNumberFromString,
  patternCompilations,
  phoneNumberPatternsCached,
} from '../../src/messages/phone-number';

type Parse = typeof parsePhoneNumberFromString;

/** libphonenumber as it ships: loaded again in a registry of its own, without the cache. */
function shippedParse(): Parse {
  let parse: Parse | undefined;
  jest.isolateModules(() => {
    parse =
      jest.requireActual<typeof import('libphonenumber-js/max')>(
        'libphonenumber-js/max',
      ).parsePhoneNumberFromString;
  });
  if (parse === undefined) throw new Error('libphonenumber did not load');
  return parse;
}

/** The library's helper module, as its own modules load it (where the cache is installed). */
function helper(): { default: MatchesEntirely } {
  return jest.requireActual<{ default: MatchesEntirely }>(libphonenumberHelperFile());
}

/** What a parse says about a number, as smsgate reads it. */
function reading(parse: Parse, raw: string, region?: CountryCode) {
  const phone = parse(raw, region);
  if (!phone) return null;
  return {
    number: phone.number,
    country: phone.country,
    type: phone.getType(),
    valid: phone.isValid(),
    possible: phone.isPossible(),
    national: phone.nationalNumber,
  };
}

/**
 * Numbers of every region and type the library has examples for, written as callers write them
 * (E.164, national, with spaces, with `00`), each also with a digit changed, one missing and one
 * extra, so that valid, invalid and impossible numbers are all read.
 */
function corpus(): { raw: string; region: CountryCode }[] {
  const cases: { raw: string; region: CountryCode }[] = [];
  for (const region of getCountries()) {
    const example = getExampleNumber(region, examples);
    if (!example) continue;
    const e164 = example.number;
    const national = example.formatNational();
    const variants = [
      e164,
      national,
      `00${e164.slice(1)}`,
      e164.replace(/(\d{3})/g, '$1 ').trim(),
      e164.slice(0, -1),
      `${e164}7`,
      `${e164.slice(0, -2)}${(Number(e164.at(-2)) + 5) % 10}${e164.at(-1) ?? ''}`,
      national.replace(/\d(?=\D*$)/, (d) => String((Number(d) + 3) % 10)),
    ];
    for (const raw of variants) cases.push({ raw, region }, { raw, region: 'AU' });
  }
  for (const raw of [
    '0412345678',
    '+61412345678',
    '0061412345678',
    '02 9876 5432',
    '1300 123 456',
    '',
    'abc',
    '04',
    '+1 202-555-0143',
  ])
    cases.push({ raw, region: 'AU' });
  return cases;
}

describe('phone numbers: libphonenumber with its patterns compiled once', () => {
  it('is installed in the library smsgate loads, and each pattern is compiled once', () => {
    expect(phoneNumberPatternsCached).toBe(true);
    expect(helper().default.name).toBe('matchesEntirely');
    expect(parsePhoneNumberFromString('0412345678', 'AU')?.getType()).toBe('MOBILE');
    // The first parse of an Australian mobile in this registry compiled its patterns (or an
    // earlier test's did); the next ones compile nothing, though they test the same patterns.
    expect(cachedPatternCount()).toBeGreaterThan(0);
    const compiled = patternCompilations();
    for (const raw of ['0498765432', '+61 412 000 111', '0412345679'])
      expect(parsePhoneNumberFromString(raw, 'AU')?.getType()).toBe('MOBILE');
    expect(patternCompilations()).toBe(compiled);
  });

  it('reads every number as the library as it ships reads it', () => {
    const shipped = shippedParse();
    const cases = corpus();
    expect(cases.length).toBeGreaterThan(2000);
    const differences = cases.filter(
      ({ raw, region }) =>
        JSON.stringify(reading(parsePhoneNumberFromString, raw, region)) !==
        JSON.stringify(reading(shipped, raw, region)),
    );
    expect(differences).toEqual([]);
    // The corpus holds numbers of each kind: valid of several types, invalid, and unreadable.
    const readings = cases.map(({ raw, region }) => reading(shipped, raw, region));
    expect(readings.filter((r) => r?.valid).length).toBeGreaterThan(500);
    expect(readings.filter((r) => r && !r.valid).length).toBeGreaterThan(500);
    expect(readings.filter((r) => r === null).length).toBeGreaterThan(0);
  });

  it('keeps at most MAX_CACHED_PATTERNS compiled patterns, and still matches after starting again', () => {
    const matchesEntirely = helper().default;
    const counts: number[] = [];
    for (let i = 0; i <= MAX_CACHED_PATTERNS; i++) {
      expect(matchesEntirely(`x${i}`, `x${i}`)).toBe(true);
      counts.push(cachedPatternCount());
    }
    // Each new pattern was kept until the cache was full, which then started again.
    expect(Math.max(...counts)).toBe(MAX_CACHED_PATTERNS);
    expect(counts.at(-1)).toBeLessThan(MAX_CACHED_PATTERNS);
    // Whole-text matches only, as the library's own helper: anchored at both ends.
    expect(matchesEntirely('x12', 'x1')).toBe(false);
    expect(matchesEntirely('ax1', 'x1')).toBe(false);
    expect(matchesEntirely(undefined, '\\d*')).toBe(true);
    expect(parsePhoneNumberFromString('0412345678', 'AU')?.getType()).toBe('MOBILE');
  });
});
