import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

/**
 * Every phone number smsgate reads goes through this module's `parsePhoneNumberFromString`:
 * libphonenumber's own, with its patterns compiled once (see cachePatterns).
 */
export { parsePhoneNumberFromString };

/**
 * Most compiled patterns kept. About 1,200 patterns of the full metadata, for all the world's
 * regions, reach the helper; the numbers one gateway sees use a few (3 for Australian mobiles, 16
 * for Australian numbers of every kind). The bound only keeps memory bounded if that changes.
 */
export const MAX_CACHED_PATTERNS = 2000;

/** libphonenumber's helper: whether `text` matches `pattern` as a whole. */
export type MatchesEntirely = (text: string | undefined, pattern: string) => boolean;

const compiled = new Map<string, RegExp>();
let compilations = 0;

/**
 * libphonenumber's `matchesEntirely(text, pattern)`, with the pattern's RegExp compiled once.
 * The library builds `new RegExp('^(?:' + pattern + ')$')` for every pattern it tests, several
 * per number (its national-number pattern, then each number type's until one matches): half of
 * the CPU time of parsing a number and asking its type (21.9 → 10.3 µs for `04…` in region AU on
 * this project's machine). Compiled once, a 1,000-recipient send costs 21.7 % fewer instructions
 * (docs/benchmarks.md, "Fifteenth round"). The expressions have no `g` or `y` flag, so `test` keeps
 * no state between calls and one RegExp serves every caller.
 */
function matchesEntirely(text: string | undefined, pattern: string): boolean {
  let expression = compiled.get(pattern);
  if (expression === undefined) {
    // A full cache starts again: bounded memory, and a gateway's few patterns come back at once.
    if (compiled.size >= MAX_CACHED_PATTERNS) compiled.clear();
    expression = new RegExp(`^(?:${pattern})$`);
    compiled.set(pattern, expression);
    compilations++;
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

const requireHere = createRequire(__filename);

/**
 * The file of libphonenumber's helper in its CommonJS build. The module is not in the package's
 * `exports`, so it is found by its file name, the one the library's own `require`s resolve to.
 */
export function libphonenumberHelperFile(): string {
  const root = dirname(requireHere.resolve('libphonenumber-js/package.json'));
  return join(root, 'build', 'helpers', 'matchesEntirely.js');
}

/**
 * Installs the compiled-once `matchesEntirely` in libphonenumber-js. Hand-rolled because the
 * library offers no option for it. Its CommonJS build (which smsgate, itself CommonJS, loads)
 * keeps the helper in one module, and every caller reads the helper's `default` export at each
 * call (`(0, _matchesEntirely["default"])(…)`), so replacing that export reaches them all. The
 * library's ES module build (`es6/`, loaded only by an `import` from an ES module) binds the
 * helper at load and is not reached. Returns false, and changes nothing, when the module is not
 * where or what it was (another release of the library): numbers are then parsed as the library
 * does, only slower, the gateway says so when it starts (services.ts), and
 * test/messages/phone-number.test.ts fails.
 */
function cachePatterns(): boolean {
  try {
    const helper: unknown = requireHere(libphonenumberHelperFile());
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

/** How many patterns were compiled since start-up (for tests: a cache hit compiles nothing). */
export function patternCompilations(): number {
  return compilations;
}
