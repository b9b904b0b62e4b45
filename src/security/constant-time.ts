import { createHash, timingSafeEqual } from 'node:crypto';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/**
 * Compares a presented credential with the expected one in time that depends on neither's
 * content nor length: both sides are hashed to 32 bytes first, so timingSafeEqual always compares
 * equal-length buffers (it throws otherwise) and an early length check cannot tell an attacker
 * how long the secret is.
 */
export function equalsConstantTime(a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}
