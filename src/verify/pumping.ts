import type { VerificationConfig } from '../config';
import { parsePhoneNumberFromString } from '../messages';
import type { VerificationCounts, VerificationDecision } from '../store';

/** Where a number belongs for the limits: its country and its range (`+` country code, first digits). */
export function rangeOf(e164: string, prefixLength: number): { country: string; range: string } {
  const phone = parsePhoneNumberFromString(e164);
  if (!phone) throw new Error('rangeOf: expected a valid E.164 number');
  return {
    country: phone.country ?? 'ZZ',
    range: `+${phone.countryCallingCode}${phone.nationalNumber.slice(0, prefixLength)}`,
  };
}

/** Why a request is refused: what the caller is told and how long to wait. */
export const REFUSALS = {
  fraud: 'verifications to this number range are paused for up to an hour (suspected SMS pumping)',
  cooldown: 'a code was sent to this number moments ago; wait before asking for another',
  number: 'too many codes to this number in the last hour',
  range: 'too many codes to this number range in the last hour',
  country: 'too many codes to this country in the last hour',
  ip: 'too many codes asked from this address in the last hour',
} as const;
export type Refusal = keyof typeof REFUSALS;

/**
 * The pumping limits, in order: a flagged range; a range with many requests and few approvals
 * (flagged now, once per window); the resend cooldown; then the hourly caps per number, range,
 * country and client IP. Counts are of the last hour, this request not included.
 */
export function decide(
  settings: VerificationConfig,
  counts: VerificationCounts,
  now: number,
): VerificationDecision & { refusal?: Refusal } {
  if (counts.rangeFlagged) return { send: false, refusal: 'fraud' };
  const requests = counts.rangeRequests + 1;
  if (
    requests >= settings.fraud.minRequests &&
    counts.rangeApproved / requests < settings.fraud.minApprovedRatio
  ) {
    return { send: false, refusal: 'fraud', flagRange: true };
  }
  const last = counts.lastSentToNumberAt === null ? -Infinity : Date.parse(counts.lastSentToNumberAt);
  if (now - last < settings.resendCooldownSec * 1000) return { send: false, refusal: 'cooldown' };
  if (counts.sentToNumber >= settings.perNumberPerHour) return { send: false, refusal: 'number' };
  if (counts.sentToRange >= settings.perPrefixPerHour) return { send: false, refusal: 'range' };
  if (counts.sentToCountry >= settings.perCountryPerHour) return { send: false, refusal: 'country' };
  if (counts.sentFromIp >= settings.perIpPerHour) return { send: false, refusal: 'ip' };
  return { send: true };
}
