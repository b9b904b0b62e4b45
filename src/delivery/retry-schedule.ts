/**
 * When to try again after `attempts` failed attempts: the configured gap, stretched or shrunk by
 * up to `jitter` at random, and never sooner than the receiver's Retry-After. Null once the
 * schedule is used up: the delivery is dead-lettered.
 */
export function nextRetryDelayMs(
  attempts: number,
  scheduleSec: number[],
  jitter: number,
  random: () => number,
  retryAfterMs?: number,
): number | null {
  const gap = scheduleSec[attempts - 1];
  if (gap === undefined) return null;
  const jittered = gap * 1000 * (1 + jitter * (2 * random() - 1));
  // A receiver's Retry-After is honoured up to a day, so it cannot park a delivery forever.
  return Math.max(Math.round(jittered), Math.min(retryAfterMs ?? 0, 86_400_000));
}
