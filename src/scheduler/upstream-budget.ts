import type { Clock } from '../clock';
import { ApiError } from '../http';
import { UpstreamError, type WriteGate } from '../upstream';
import { FairQueue } from './fair-queue';
import type { SlotSource } from './slot-source';

export interface UpstreamBudgetOptions {
  /** Where slots come from: this node's sliding log, or the cluster's in Redis. */
  slots: SlotSource;
  callsPerSecond: number;
  /** Weight of a tenant's share when several wait (config tenants.<id>.weight, default 1). */
  weightOf: (tenantId: string) => number;
  maxQueueWaitMs: number;
  maxQueueLength: number;
  /** How often one call is retried after the provider answered 429 (it was not processed). */
  maxThrottleRetries?: number;
  clock: Clock;
  /**
   * How old a slot may be when its request is written (the window margin): the log counts slots
   * in windows of 1000 + margin ms, so calls written within the margin of their slot never put
   * more than the cap in any provider second. An older slot goes back in the queue, at the head.
   * Undefined: no check (every slot is good whenever it is used).
   */
  writeWithinMs?: number;
  /** Told how long each call waited for its slot. */
  onAdmitted?: (tenantId: string, waitedMs: number) => void;
}

/** Every provider call takes a slot from this budget; there is no second path to the provider. */
export interface UpstreamBudget {
  /**
   * Runs `call` with a slot. The call passes `gate` to the upstream client, which asks it right
   * before writing the request; a stale slot fails the call `stale` and it runs again with a new one.
   */
  run<T>(tenantId: string, call: (gate: WriteGate) => Promise<T>): Promise<T>;
  queueLength(): number;
  stop(): void;
}

interface Waiter {
  deadline: number;
  /** Resolves with when the slot was asked for (the grant is no older than that). */
  admit: (askedAt: number) => void;
  refuse: (error: ApiError) => void;
}

/**
 * Waiting calls sit in per-tenant queues and get slots by weight (fair, work-conserving). A call
 * that cannot get a slot before its deadline is refused with 429 OVER_LIMIT and a Retry-After
 * estimate, never left hanging; a full queue answers 503 ("not sent"). When the provider still
 * answers 429 (another client on the same account), the whole budget pauses for its Retry-After
 * (or 1 s) and the call is retried with a fresh slot, at the head of its tenant's queue.
 */
export function createUpstreamBudget(options: UpstreamBudgetOptions): UpstreamBudget {
  const queue = new FairQueue<Waiter>(options.weightOf);
  const maxRetries = options.maxThrottleRetries ?? 3;
  let cancelWake: (() => void) | undefined;
  let draining = false;
  let again = false;
  let stopped = false;
  // No waiter's deadline is earlier than this (a lower bound, exact after each scan), so the drain
  // loop scans the queue for expired waiters only when one may be, not on every grant.
  let earliest = Number.POSITIVE_INFINITY;

  const retryAfter = (ahead: number) => String(Math.max(1, Math.ceil((ahead + 1) / options.callsPerSecond)));

  function refuseExpired(now: number): void {
    if (earliest >= now) return;
    const expired = queue.removeWhere((waiter) => waiter.deadline < now);
    earliest = Number.POSITIVE_INFINITY;
    for (const waiter of queue.items()) earliest = Math.min(earliest, waiter.deadline);
    for (const waiter of expired) {
      waiter.refuse(
        new ApiError('OVER_LIMIT', 'upstream: no provider slot within the queue deadline; not sent', {
          'Retry-After': retryAfter(queue.size),
        }),
      );
    }
  }

  // One drain loop at a time per node; a request to drain while one runs makes it go round again.
  async function drain(): Promise<void> {
    if (draining) {
      again = true;
      return;
    }
    draining = true;
    cancelWake?.();
    cancelWake = undefined;
    try {
      do {
        again = false;
        for (;;) {
          refuseExpired(options.clock.now());
          if (queue.size === 0 || stopped) break;
          // The answer's wait counts from when the slot source was asked, not from when it answered.
          const askedAt = options.clock.now();
          const wait = await options.slots.tryAcquire();
          if (wait > 0) {
            const wakeAt = Math.min(askedAt + wait, earliest + 1);
            cancelWake = options.clock.schedule(
              () => void drain(),
              Math.max(1, wakeAt - options.clock.now()),
            );
            return;
          }
          queue.shift()?.item.admit(askedAt);
        }
      } while (again);
    } finally {
      draining = false;
    }
  }

  function waitForSlot(tenantId: string, atHead: boolean, deadline?: number): Promise<number> {
    if (stopped)
      return Promise.reject(
        new ApiError('UPSTREAM_UNAVAILABLE', 'upstream: gateway is shutting down; not sent'),
      );
    if (!atHead && queue.size >= options.maxQueueLength) {
      return Promise.reject(
        new ApiError('UPSTREAM_UNAVAILABLE', 'upstream: the provider queue is full; not sent', {
          'Retry-After': retryAfter(queue.size),
        }),
      );
    }
    return new Promise<number>((admit, refuse) => {
      const waiter = { deadline: deadline ?? options.clock.now() + options.maxQueueWaitMs, admit, refuse };
      earliest = Math.min(earliest, waiter.deadline);
      if (atHead) queue.unshift(tenantId, waiter);
      else queue.push(tenantId, waiter);
      void drain();
    });
  }

  return {
    async run(tenantId, call) {
      const queuedAt = options.clock.now();
      let throttled = 0;
      let stale = false;
      for (let attempt = 0; ; attempt++) {
        // Fast path: nobody waits here, so taking a free slot directly passes no one.
        const askedAt = options.clock.now();
        const direct =
          attempt === 0 &&
          !stopped &&
          queue.size === 0 &&
          !draining &&
          (await options.slots.tryAcquire()) === 0;
        // A stale slot is given another within the request's first deadline, at the head of its queue.
        const grantedAt = direct
          ? askedAt
          : await waitForSlot(tenantId, attempt > 0, stale ? queuedAt + options.maxQueueWaitMs : undefined);
        if (attempt === 0) options.onAdmitted?.(tenantId, options.clock.now() - queuedAt);
        const within = options.writeWithinMs;
        const gate: WriteGate = () => within === undefined || options.clock.now() - grantedAt <= within;
        try {
          return await call(gate);
        } catch (error) {
          if (!(error instanceof UpstreamError)) throw error;
          if (error.kind === 'stale') {
            stale = true;
            continue;
          }
          if (error.kind !== 'throttled' || throttled >= maxRetries) throw error;
          throttled += 1;
          stale = false;
          await options.slots.pause(1000 * Number(error.headers['Retry-After'] ?? 1));
        }
      }
    },
    queueLength: () => queue.size,
    stop() {
      stopped = true;
      cancelWake?.();
      for (const waiter of queue.removeWhere(() => true)) {
        waiter.refuse(new ApiError('UPSTREAM_UNAVAILABLE', 'upstream: gateway is shutting down; not sent'));
      }
      void options.slots.close();
    },
  };
}
