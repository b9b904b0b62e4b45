import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

/**
 * Every phone number smsgate reads goes through this module's `parsePhoneNumberFromString`:
 * libphonenumber's own, with its patterns compiled once (see cachePatterns).
 */
export { parsePhoneNumberFromString };

/**
 * Most compiled patterns kept. The full metadata holds a few thousand patterns for all the world's
 * regions; the numbers one gateway sees use a few dozen (about 20 for Australian numbers).
 */
export const MAX_CACHED_PATTERNS = 2000;

type MatchesEntirely = (text: string | undefined, pattern: string) => boolean;

const compiled = new Map<string, RegExp>();

/**
 * libphonenumber's `matchesEntirely(text, pattern)`, with the pattern's RegExp compiled once.
 * The library builds `new RegExp('^(?:' + pattern + ')$')` for every pattern it tests, several
 * per number (its national-number pattern, then each number type's until one matches): half of
 * the CPU time of parsing a number and asking its type (21.9 → 10.3 µs for `04…` in region AU on
 * this project's machine), and a tenth of a 1,000-recipient send's. The expressions have no `g`
 * or `y` flag, so `test` keeps no state between calls and one RegExp serves every caller.
 */
function matchesEntirely(text: string | undefined, pattern: string): boolean {
  let expression = compiled.get(pattern);
  if (expression === undefined) {
    // A full cache starts again: bounded memory, and a gateway's few dozen patterns come back at once.
    if (compiled.size >= MAX_CACHED_PATTERNS) compiled.clear();
    expression = new RegExp(`^(?:${pattern})$`);
    compiled.set(pattern, expression);
  }
  return expression.test(text || '');
}

interface HelperModule {
  default: MatchesEntirely;
}

function isHelperModule(value: unknown): value is HelperModule {
  return (
    typeof value === 'object' &&
    value !== null &&
    'default' in value &&
    typeof value.default === 'function' &&
    value.default.length === 2
  );
}

/**
 * Installs the compiled-once `matchesEntirely` in libphonenumber-js. Hand-rolled because the
 * library offers no option for it. Its CommonJS build (which smsgate loads) keeps the helper in
 * one module, `build/helpers/matchesEntirely.js`, and every caller reads the helper's `default`
 * export at each call (`(0, _matchesEntirely["default"])(…)`), so replacing that export reaches
 * them all. The module is not in the package's `exports`, so it is loaded by its file name, the
 * one the library's own `require`s resolve to. Returns false, and changes nothing, when the
 * module is not where or what it was (another release of the library): numbers are then parsed
 * as the library does, only slower, and test/messages/phone-number.test.ts fails.
 */
function cachePatterns(): boolean {
  try {
    const requireHere = createRequire(__filename);
    const build = join(dirname(requireHere.resolve('libphonenumber-js/max')), '..', 'build');
    const helper: unknown = requireHere(join(build, 'helpers', 'matchesEntirely.js'));
    if (!isHelperModule(helper)) return false;
    helper.default = matchesEntirely;
    return true;
  } catch {
    return false;
  }
}

/** Whether libphonenumber tests its patterns through the cache (false: the library as it ships). */
export const phoneNumberPatternsCached = cachePatterns();

/** How many compiled patterns the cache holds (for tests). */
export function cachedPatternCount(): number {
  return compiled.size;
}
