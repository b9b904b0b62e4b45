import type { Clock } from '../clock';
import { SlidingLog } from './sliding-log';

/**
 * Where upstream slots come from: one node's memory, or Redis shared by every replica. Both keep
 * an exact sliding log of at most `limit` admissions in any rolling `windowMs`.
 */
export interface SlotSource {
  /** Takes a slot and resolves 0, or resolves how many ms until one may be free (never takes one then). */
  tryAcquire(): Promise<number>;
  /** Holds every slot for `ms`: the provider answered 429, so nobody may call it for a while. */
  pause(ms: number): Promise<void>;
  close(): Promise<void>;
}

export function createLocalSlotSource(limit: number, windowMs: number, clock: Clock): SlotSource {
  const log = new SlidingLog(limit, windowMs);
  let pausedUntil = 0;
  return {
    tryAcquire() {
      const now = clock.now();
      return Promise.resolve(now < pausedUntil ? pausedUntil - now : log.tryAcquire(now));
    },
    pause(ms) {
      pausedUntil = Math.max(pausedUntil, clock.now() + ms);
      return Promise.resolve();
    },
    async close() {},
  };
}
