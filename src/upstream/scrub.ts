import { scrubSecrets } from '../observability';

/** Removes the provider credentials from anything that came back from the provider. */
export type Scrub = <T>(value: T) => T;

export interface AnswerScrub {
  /** Any value, however deep (see createScrub). */
  value: Scrub;
  /**
   * An answer: `parsed` is what `raw`, its body text, parsed to. When the text holds no form of
   * the key and no backslash, every string in `parsed` is a piece of that text as written, so
   * none can hold the key: `parsed` is returned as it is, not copied. A backslash (a JSON escape
   * such as \u0041 or \/ could spell the key out) means the whole copy is cleaned as before.
   */
  answer(raw: string, parsed: unknown): unknown;
}

/**
 * The one place provider answers are cleaned of the APPKEY: every string of a JSON value (object
 * keys too), however deep, has each form of the key the provider might echo replaced by
 * `[REDACTED]` — the key itself, URL-encoded, and as the HTTP Basic credentials it travels in. The
 * client runs every answer through it before reading it, so errors built from an answer, bodies
 * passed through to admins and the error stored with a message all start from a clean copy.
 */
export function createScrub(appKey: string): AnswerScrub {
  const forms = [
    appKey,
    encodeURIComponent(appKey),
    Buffer.from(`${appKey}:`).toString('base64'),
    Buffer.from(appKey).toString('base64'),
  ];
  const secrets = [...new Set(forms)].filter((form) => form.length >= 8);
  const clean = (value: unknown): unknown => {
    if (typeof value === 'string') return scrubSecrets(value, secrets);
    if (Array.isArray(value)) return value.map(clean);
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([key, inner]) => [clean(key), clean(inner)]));
    }
    return value;
  };
  const value = <T>(input: T) => clean(input) as T;
  return {
    value,
    answer: (raw, parsed) =>
      raw.includes('\\') || secrets.some((secret) => raw.includes(secret)) ? clean(parsed) : parsed,
  };
}
