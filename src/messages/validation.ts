import type { CountryCode, PhoneNumber } from 'libphonenumber-js/max';
import { parsePhoneNumberFromString } from './phone-number';
import { SegmentedMessage } from 'sms-segments-calculator';
import { z } from 'zod';
import type { Config, NumberType, TenantConfig } from '../config';
import { ApiError, parseWith } from '../http';
import { nextCpuTurn, type CpuTurns } from '../scheduler';

/** The provider's maximum text (docs/provider.md, "Conventions"): six parts, at most these lengths. */
export const MAX_SEGMENTS = 6;
export const MAX_GSM_SEPTETS = 918;
export const MAX_UCS2_UNITS = 402;

/** The body of POST /v1/messages: documented with this schema and checked by parseSendRequest. */
export const sendRequestSchema = z
  .strictObject({
    to: z
      .union([z.string(), z.array(z.string()).min(1)])
      .meta({ description: 'One number, or a list of 1–1000 (messages.maxRecipients); national or E.164' }),
    text: z.string().optional().meta({ description: 'The text; or send `template` and `params` instead' }),
    template: z
      .string()
      .max(64)
      .optional()
      .meta({ description: "One of the tenant's templates (tenants.<id>.templates); instead of text" }),
    params: z
      .record(z.string(), z.string())
      .optional()
      .meta({ description: "The template's fields, each a string within its declared type and maxLength" }),
    from: z.string().optional(),
    scheduleAt: z.string().optional(),
    reference: z.string().max(128).optional(),
    purpose: z.enum(['marketing', 'transactional']).optional().meta({
      description:
        "Marketing sends skip numbers on a suppression list (status `suppressed`); default: the tenant's defaultPurpose",
    }),
  })
  .meta({ id: 'SendRequest' });
export type SendRequest = z.infer<typeof sendRequestSchema>;

export interface TextMeasure {
  encoding: 'GSM-7' | 'UCS-2';
  segments: number;
  /** GSM-7 septets (extension characters count 2) or UCS-2 code units. */
  length: number;
}

/** Parses the body into a SendRequest or throws FIELD_EMPTY / FIELD_INVALID naming the field. */
export function parseSendRequest(body: unknown): SendRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError('FIELD_INVALID', 'body: expected a JSON object');
  }
  const input = body as Record<string, unknown>;
  // An unknown field first: a misspelt `mesage` is the mistake, not the `text` it leaves missing.
  const unknown = Object.keys(input).filter((key) => !Object.hasOwn(sendRequestSchema.shape, key));
  if (unknown.length > 0) {
    throw new ApiError(
      'FIELD_INVALID',
      unknown.map((key) => `${key.slice(0, 64)}: unknown field`).join('; '),
    );
  }
  if (input.to === undefined || input.to === '' || (Array.isArray(input.to) && input.to.length === 0)) {
    throw new ApiError('FIELD_EMPTY', 'to: at least one recipient is required');
  }
  if (input.template !== undefined) {
    if (input.text !== undefined)
      throw new ApiError('FIELD_INVALID', 'text: send either text or template, not both');
    if (input.from !== undefined)
      throw new ApiError('FIELD_INVALID', "from: a template's sender is fixed by its configuration");
    if (typeof input.template === 'string' && input.template === '')
      throw new ApiError('FIELD_EMPTY', 'template: must not be empty');
  } else if (input.params !== undefined) {
    throw new ApiError('FIELD_INVALID', 'params: only with template');
  } else if (input.text === undefined || (typeof input.text === 'string' && input.text.trim() === '')) {
    throw new ApiError('FIELD_EMPTY', 'text: must not be empty');
  }
  return parseWith(sendRequestSchema, body);
}

/**
 * Parses every recipient to E.164 with the full libphonenumber metadata, then checks the tenant's
 * number types (mobiles by default) and allowed countries. Invalid numbers and numbers of another
 * type are listed together (RECIPIENTS_ERROR), refused before any provider call; a number in a
 * country the tenant may not send to is FORBIDDEN. Duplicates are sent once.
 */
export function normaliseRecipients(
  to: string | string[],
  tenant: TenantConfig,
  defaultRegion: string,
  max: number,
): string[] {
  const checks = recipientChecks(to, tenant, defaultRegion, max);
  checks.slice(0, checks.total);
  return checks.result();
}

/** Numbers parsed between two turns of the event loop (~0.5–0.7 ms of libphonenumber on one core). */
export const RECIPIENTS_PER_SLICE = 64;

/**
 * The same checks, a slice at a time: a 1,000-number request yields to the event loop every
 * RECIPIENTS_PER_SLICE numbers, so full libphonenumber parsing (~9–10 ms for 1,000 numbers, an
 * eighth of the CPU of a thousand-recipient send; twice that before its patterns were compiled
 * once, see phone-number.ts) never holds other requests, provider writes or timers for longer than
 * one slice. A short list is done in one go, without a yield.
 */
export async function normaliseRecipientsIncrementally(
  to: string | string[],
  tenant: TenantConfig,
  defaultRegion: string,
  max: number,
  turns: Pick<CpuTurns, 'next'> = { next: nextCpuTurn },
): Promise<string[]> {
  const checks = recipientChecks(to, tenant, defaultRegion, max);
  // A long list waits its turn for its first slice too: the requests whose bodies came in the
  // same turn would otherwise each parse a slice in it.
  const sliced = checks.total > RECIPIENTS_PER_SLICE;
  for (let from = 0; from < checks.total; from += RECIPIENTS_PER_SLICE) {
    if (sliced) await turns.next();
    checks.slice(from, Math.min(checks.total, from + RECIPIENTS_PER_SLICE));
  }
  return checks.result();
}

/**
 * Parses every recipient to E.164 with the full libphonenumber metadata, then checks the tenant's
 * number types (mobiles by default) and allowed countries. Invalid numbers and numbers of another
 * type are listed together (RECIPIENTS_ERROR), refused before any provider call; a number in a
 * country the tenant may not send to is FORBIDDEN. Duplicates are sent once.
 */
function recipientChecks(to: string | string[], tenant: TenantConfig, defaultRegion: string, max: number) {
  const list = Array.isArray(to) ? to : [to];
  if (list.length > max)
    throw new ApiError('RECIPIENTS_ERROR', `to: at most ${max} recipients per request, got ${list.length}`);
  const field = (i: number) => (Array.isArray(to) ? `to[${i}]` : 'to');
  const invalid: string[] = [];
  const forbidden: string[] = [];
  const numbers: string[] = [];
  const check = (raw: string, i: number) => {
    const { phone, type } = parseRecipient(raw, defaultRegion as CountryCode) ?? {};
    if (!phone) {
      invalid.push(`${field(i)}: '${raw.slice(0, 32)}' is not a valid phone number`);
    } else if (!type || !tenant.numberTypes.includes(type)) {
      invalid.push(
        `${field(i)}: '${raw.slice(0, 32)}' is ${type ? `a ${type}` : 'not a known type of'} number; this tenant may send only to ${tenant.numberTypes.join(', ')} numbers`,
      );
    } else if (!phone.country || !tenant.allowedCountries.includes(phone.country)) {
      forbidden.push(
        `${field(i)}: ${phone.country ?? 'this destination'} is not an allowed country for this tenant (allowed: ${tenant.allowedCountries.join(', ')})`,
      );
    } else {
      numbers.push(phone.number);
    }
  };
  return {
    total: list.length,
    slice(from: number, to: number): void {
      for (let i = from; i < to; i++) check(list[i]!, i);
    },
    result(): string[] {
      if (invalid.length > 0) throw new ApiError('RECIPIENTS_ERROR', summarise(invalid));
      if (forbidden.length > 0) throw new ApiError('FORBIDDEN', summarise(forbidden));
      return [...new Set(numbers)];
    },
  };
}

/**
 * A valid number and its type, or undefined. `00` is the international prefix in most of the
 * world, but not everywhere (Australia dials 0011), so libphonenumber reads `0061…` with region AU
 * as a national number; written that way, it is taken as `+61…`. A number valid as written is kept
 * as written.
 */
function parseRecipient(raw: string, region: CountryCode): TypedNumber | undefined {
  const typed = typedIfValid(parsePhoneNumberFromString(raw, region));
  if (typed) return typed;
  const international = /^\s*00\s*([1-9].*)$/.exec(raw);
  return international ? typedIfValid(parsePhoneNumberFromString(`+${international[1]}`, region)) : undefined;
}

interface TypedNumber {
  phone: PhoneNumber;
  /** Undefined for a valid number of no known type. */
  type: NumberType | undefined;
}

/**
 * The type is asked first: libphonenumber's isValid() works out the number's type too (with the
 * full metadata, a number is valid when it has a type), so asking both did that work twice for
 * every valid number (15.8 µs a number, 12.8-14.0 asking the type first). A number with a type
 * matched its country's pattern, so it is valid under either of isValid()'s rules; isValid() is
 * asked only of a number without one. An invalid number is now worked out twice instead: it is
 * refused either way.
 */
function typedIfValid(phone: PhoneNumber | undefined): TypedNumber | undefined {
  if (!phone) return undefined;
  const type = phone.getType()?.toLowerCase() as NumberType | undefined;
  if (type) return { phone, type };
  return phone.isValid() ? { phone, type: undefined } : undefined;
}

function summarise(problems: string[]): string {
  const shown = problems.slice(0, 10).join('; ');
  return problems.length > 10 ? `${shown}; and ${problems.length - 10} more` : shown;
}

/** The sender id: the request's, else the tenant's default; the provider's rules, then the tenant's list. */
export function chooseSender(from: string | undefined, tenant: TenantConfig): string {
  const sender = from ?? tenant.defaultSender;
  if (sender !== '') {
    if (!/^[A-Za-z0-9 -]+$/.test(sender))
      throw new ApiError('FIELD_INVALID', 'from: may contain only letters, digits, spaces and dashes');
    if (/^[0-9]+$/.test(sender) ? sender.length > 16 : sender.length > 11) {
      throw new ApiError(
        'FIELD_INVALID',
        'from: at most 16 digits for a numeric sender id, or 11 characters for an alphanumeric one',
      );
    }
  }
  if (from !== undefined && tenant.allowedSenders && !tenant.allowedSenders.includes(sender)) {
    throw new ApiError('FORBIDDEN', `from: '${sender}' is not a sender id this tenant may use`);
  }
  return sender;
}

/**
 * Counts GSM-7 / UCS-2 segments and refuses text over the provider's maximum. The lengths alone
 * are not enough: an extension character (€) is never split from its escape and an emoji never
 * split across segments, so 918 septets or 402 units can need a seventh segment.
 */
export function measureText(text: string): TextMeasure {
  const { encoding, length, segments } = PLAIN_GSM_TEXT.test(text) ? plainGsmMeasure(text) : segmented(text);
  const max = encoding === 'GSM-7' ? MAX_GSM_SEPTETS : MAX_UCS2_UNITS;
  if (length > max) {
    const unit =
      encoding === 'GSM-7' ? 'GSM-7 characters' : 'UCS-2 characters (the text has non-GSM characters)';
    throw new ApiError('FIELD_INVALID', `text: at most ${max} ${unit}, got ${length}`);
  }
  if (segments > MAX_SEGMENTS) {
    throw new ApiError('FIELD_INVALID', `text: at most ${MAX_SEGMENTS} SMS segments, got ${segments}`);
  }
  return { encoding, segments, length };
}

/**
 * Non-empty text of ASCII letters, digits, space and the punctuation of the GSM-7 default alphabet:
 * one septet per character, nothing to keep together, so the count needs no grapheme splitting
 * (which the library does for every text: 1–2 % of a send's CPU). Extension characters (^{}[]~\|€),
 * newlines and anything outside ASCII take the library's path.
 */
const PLAIN_GSM_TEXT = /^[A-Za-z0-9 !"#%&'()*+,\-./:;<=>?@$_]+$/;

/** 160 septets in one segment; a longer text is sent in parts of 153 (7 go to the part header). */
function plainGsmMeasure(text: string): TextMeasure {
  const length = text.length;
  return { encoding: 'GSM-7', length, segments: length <= 160 ? 1 : Math.ceil(length / 153) };
}

function segmented(text: string): TextMeasure {
  const message = new SegmentedMessage(text);
  const encoding = message.encodingName === 'GSM-7' ? 'GSM-7' : 'UCS-2';
  const length = encoding === 'GSM-7' ? message.numberOfCharacters : text.length;
  return { encoding, length, segments: message.segmentsCount };
}

/** A future time, given as ISO 8601 with an offset; returned as epoch ms. */
export function parseScheduleAt(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value)) {
    throw new ApiError(
      'FIELD_INVALID',
      'scheduleAt: expected an ISO 8601 date-time with an offset, e.g. 2026-12-01T09:30:00+11:00',
    );
  }
  const at = Date.parse(value);
  if (!Number.isFinite(at))
    throw new ApiError('FIELD_INVALID', `scheduleAt: '${value}' is not a real date-time`);
  if (at <= now) throw new ApiError('FIELD_INVALID', 'scheduleAt: must be in the future');
  if (at > now + 365 * 86_400_000) throw new ApiError('FIELD_INVALID', 'scheduleAt: at most one year ahead');
  return at;
}

/**
 * A marketing text under the tenant's `optOut.requireInstruction`: as it is when it carries an
 * opt-out instruction (or none is required), with the footer appended (`append`), or refused.
 */
export function withOptOutInstruction(text: string, tenant: TenantConfig): string {
  const { requireInstruction, instructionPattern, footer } = tenant.optOut;
  if (requireInstruction === 'off' || new RegExp(instructionPattern, 'iu').test(text)) return text;
  if (requireInstruction === 'append') return `${text}\n${footer}`;
  throw new ApiError(
    'FIELD_INVALID',
    `text: a marketing text must carry an opt-out instruction, such as '${footer}' (or send it with purpose 'transactional')`,
  );
}

/** Provider credits one segment to this E.164 number costs (`credits`, by country). */
export function creditsPerSegment(number: string, credits: Config['credits']): number {
  // Without prices by country every number costs the default: no need to parse it again.
  if (Object.keys(credits.countries).length === 0) return credits.default;
  const country = parsePhoneNumberFromString(number)?.country;
  return (country !== undefined ? credits.countries[country] : undefined) ?? credits.default;
}
