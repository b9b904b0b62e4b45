import { createHmac, randomInt } from 'node:crypto';

/** A code of `length` decimal digits from the CSPRNG, uniform (randomInt rejects biased draws). */
export function generateCode(length: number): string {
  return String(randomInt(0, 10 ** length)).padStart(length, '0');
}

/**
 * The keyed hash a code is stored as: HMAC-SHA256 under the server's verification secret, over the
 * verification id and the code, as 64 hex characters. Without the secret the stored hash does not
 * give the code away (a plain hash of six digits would fall to a million guesses), and bound to
 * the id it is of no use for any other verification.
 */
export function codeDigest(secret: string, verificationId: string, code: string): string {
  return createHmac('sha256', secret).update(`${verificationId}:${code}`, 'utf8').digest('hex');
}
