import type { Identity } from '../auth';
import type { Scope } from '../config';

// What a token may send, by its scopes (the shared rule of the sending scopes): `sms:send` — no
// restriction. Without it, `sms:send:self` limits the recipients to the token's own verified phone
// number, and `sms:send:template` limits the text to the tenant's templates; both: both limits.

/** The scopes that let a token call POST /v1/messages at all; each may narrow what it sends. */
export const SENDING_SCOPES = ['sms:send', 'sms:send:self', 'sms:send:template'] as const;

const sendingScopesText = `scope: sending needs one of '${SENDING_SCOPES.join("', '")}'`;

/**
 * Decides the text rule: undefined when a token with `scopes` may send this kind of text (a
 * template, or free text), else why not (a 403 description).
 */
export function textProblem(scopes: readonly Scope[], usesTemplate: boolean): string | undefined {
  if (!SENDING_SCOPES.some((scope) => scopes.includes(scope))) return sendingScopesText;
  if (usesTemplate || scopes.includes('sms:send')) return undefined;
  if (scopes.includes('sms:send:template'))
    return "text: this token may send templates only (scope 'sms:send:template'): send template and params";
  return undefined;
}

/** `+61 412-345 678` → `+61412345678`: the OIDC phone_number claim is E.164, perhaps with separators. */
const compact = (phone: string) => phone.replace(/[\s\-().]/g, '');

/**
 * Decides the recipient rule: undefined when `identity` may send to every one of `recipients`
 * (already normalised to E.164), else why not (a 403 description). Without `sms:send`, a token
 * with `sms:send:self` may send only to its own `phone_number` claim, and only when its
 * `phone_number_verified` claim is true; without any sending scope it may send nothing.
 */
export function recipientProblem(
  identity: Pick<Identity, 'scopes' | 'phoneNumber' | 'phoneNumberVerified'>,
  recipients: readonly string[],
): string | undefined {
  if (identity.scopes.includes('sms:send')) return undefined;
  if (!SENDING_SCOPES.some((scope) => identity.scopes.includes(scope))) return sendingScopesText;
  // A templates-only token without sms:send:self may send its templates to any allowed number.
  if (!identity.scopes.includes('sms:send:self')) return undefined;
  if (!identity.phoneNumber)
    return "to: with 'sms:send:self' a token may send only to its own phone number, and it has none (phone_number claim)";
  if (identity.phoneNumberVerified !== true)
    return "to: with 'sms:send:self' a token may send only to its own phone number once verified (phone_number_verified is not true)";
  const own = compact(identity.phoneNumber);
  if (recipients.some((recipient) => compact(recipient) !== own))
    return "to: with 'sms:send:self' a token may send only to its own phone number (phone_number claim)";
  return undefined;
}

/**
 * The recipient rule for verification codes: a token limited to its own number (`sms:send:self`
 * without `sms:send`) may ask for a code only to its own `phone_number` claim — verified or not,
 * since the code is how it gets verified. Any other token: any number the tenant allows.
 */
export function ownNumberProblem(
  identity: Pick<Identity, 'scopes' | 'phoneNumber'>,
  recipient: string,
): string | undefined {
  if (identity.scopes.includes('sms:send') || !identity.scopes.includes('sms:send:self')) return undefined;
  if (!identity.phoneNumber)
    return "to: with 'sms:send:self' a token may verify only its own phone number, and it has none (phone_number claim)";
  if (compact(identity.phoneNumber) !== compact(recipient))
    return "to: with 'sms:send:self' a token may verify only its own phone number (phone_number claim)";
  return undefined;
}
