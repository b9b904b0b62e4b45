import type { Clock } from '../clock';
import { DEFAULT_GRANT_BURST, Pacer, paceSpacing } from './pacer';
import { SlidingLog } from './sliding-log';

/**
 * Where upstream slots come from: one node's memory, or Redis shared by every replica. Both keep
 * an exact sliding log of at most `limit` admissions in any rolling `windowMs`, and both pace
 * admissions (see Pacer): up to `burst` at once when the budget has been idle, beyond them one per
 * (windowMs + 1) / limit ms, so a backlog goes out evenly across the window instead of in bursts.
 */
export interface SlotSource {
  /** Takes a slot and resolves 0, or resolves how many ms until one may be free (never takes one then). */
  tryAcquire(): Promise<number>;
  /** Holds every slot for `ms`: the provider answered 429, so nobody may call it for a while. */
  pause(ms: number): Promise<void>;
  close(): Promise<void>;
}

export function createLocalSlotSource(
  limit: number,
  windowMs: number,
  clock: Clock,
  options: { pace?: boolean; burst?: number } = {},
): SlotSource {
  const log = new SlidingLog(limit, windowMs);
  const pacer = new Pacer(
    options.pace === false ? 0 : paceSpacing(limit, windowMs),
    Math.min(limit, options.burst ?? DEFAULT_GRANT_BURST),
  );
  let pausedUntil = 0;
  const acquire = (): number => {
    const now = clock.now();
    if (now < pausedUntil) {
      pacer.hold(pausedUntil);
      return pausedUntil - now;
    }
    const held = log.waitMs(now);
    if (held > 0) {
      pacer.hold(now + held);
      return held;
    }
    const wait = pacer.waitMs(now);
    if (wait > 0) return wait;
    log.tryAcquire(now);
    pacer.record(now);
    return 0;
  };
  return {
    tryAcquire: () => Promise.resolve(acquire()),
    pause(ms) {
      pausedUntil = Math.max(pausedUntil, clock.now() + ms);
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
}
