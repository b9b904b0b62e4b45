import type { Clock } from '../clock';
import type { Logger } from '../observability';
import type { Verifier } from './verifications';

export interface ExpirySweeper {
  start(): void;
  stop(): Promise<void>;
}

/** Every `intervalMs` of the injected clock, marks codes past their expiry expired (with their events). */
export function createExpirySweeper(
  verifier: Verifier,
  clock: Clock,
  logger: Logger,
  intervalMs: number,
): ExpirySweeper {
  let cancel: (() => void) | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  const tick = () => {
    running = verifier
      .expireDue()
      .then(() => undefined)
      .catch((error: unknown) =>
        logger.warn({ err: error }, 'verification: expiry sweep failed; will try again'),
      )
      .finally(() => {
        running = undefined;
        if (!stopped) cancel = clock.schedule(tick, intervalMs);
      });
  };
  return {
    start() {
      stopped = false;
      cancel = clock.schedule(tick, intervalMs);
    },
    async stop() {
      stopped = true;
      cancel?.();
      await running;
    },
  };
}
