import type { Clock } from '../clock';
import { ApiError } from '../http/errors';
import { SlidingLog } from './sliding-log';

export interface UpstreamBudgetOptions {
  callsPerSecond: number;
  /** Extra milliseconds on the one-second window (see upstream.windowMarginMs). */
  windowMarginMs: number;
  maxQueueWaitMs: number;
  maxQueueLength: number;
  clock: Clock;
}

/** Every provider call takes a slot from this budget; there is no second path to the provider. */
export interface UpstreamBudget {
  run<T>(tenantId: string, call: () => Promise<T>): Promise<T>;
  queueLength(): number;
  stop(): void;
}

interface Waiter {
  tenantId: string;
  deadline: number;
  admit: () => void;
  refuse: (error: ApiError) => void;
}

/**
 * One node's budget: a sliding log of `callsPerSecond` per rolling second with a FIFO queue in
 * front of it. A waiting call either gets a slot before its deadline or is refused with
 * 429 OVER_LIMIT and a Retry-After estimate; a full queue answers 503 ("not sent").
 */
export function createUpstreamBudget(options: UpstreamBudgetOptions): UpstreamBudget {
  const log = new SlidingLog(options.callsPerSecond, 1000 + options.windowMarginMs);
  const queue: Waiter[] = [];
  let cancelWake: (() => void) | undefined;
  let stopped = false;

  function retryAfterSeconds(position: number): string {
    return String(Math.max(1, Math.ceil((position + 1) / options.callsPerSecond)));
  }

  function drain(): void {
    cancelWake?.();
    cancelWake = undefined;
    const now = options.clock.now();
    while (queue.length > 0) {
      const head = queue[0] as Waiter;
      if (head.deadline < now) {
        queue.shift();
        head.refuse(
          new ApiError('OVER_LIMIT', 'upstream: no provider slot within the queue deadline; not sent', {
            'Retry-After': retryAfterSeconds(queue.length),
          }),
        );
        continue;
      }
      const wait = log.tryAcquire(now);
      if (wait > 0) {
        cancelWake = options.clock.schedule(drain, Math.min(wait, head.deadline - now + 1));
        return;
      }
      queue.shift();
      head.admit();
    }
  }

  return {
    run(tenantId, call) {
      if (stopped)
        return Promise.reject(
          new ApiError('UPSTREAM_UNAVAILABLE', 'upstream: gateway is shutting down; not sent'),
        );
      if (queue.length === 0 && log.tryAcquire(options.clock.now()) === 0) return call();
      if (queue.length >= options.maxQueueLength) {
        return Promise.reject(
          new ApiError('UPSTREAM_UNAVAILABLE', 'upstream: the provider queue is full; not sent', {
            'Retry-After': retryAfterSeconds(queue.length),
          }),
        );
      }
      return new Promise<void>((admit, refuse) => {
        queue.push({ tenantId, deadline: options.clock.now() + options.maxQueueWaitMs, admit, refuse });
        drain();
      }).then(call);
    },
    queueLength: () => queue.length,
    stop() {
      stopped = true;
      cancelWake?.();
      for (const waiter of queue.splice(0)) {
        waiter.refuse(new ApiError('UPSTREAM_UNAVAILABLE', 'upstream: gateway is shutting down; not sent'));
      }
    },
  };
}
