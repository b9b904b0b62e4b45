import type { Clock } from '../clock';
import type { Config } from '../config';
import { isApiError } from '../http';
import type { QuotaService } from '../limits';
import type { Logger } from '../observability';
import type { SendThroughBudget } from '../scheduler';
import type {
  MessageOutcome,
  MessageRecord,
  MessageRepository,
  SendJob,
  SendJobRepository,
  StoredEvent,
  WebhookTenants,
} from '../store';
import { UpstreamError } from '../upstream';
import { outcomesOfAnswer, SUPPRESSED_REASON, type QueuedSend, type SuppressionCheck } from './send';

export interface SendWorkerOptions {
  config: Config;
  jobs: SendJobRepository;
  repository: MessageRepository;
  sendThroughBudget: SendThroughBudget;
  quotas: QuotaService;
  clock: Clock;
  logger: Logger;
  hasWebhook: WebhookTenants;
  onEvents: (events: StoredEvent[]) => void;
  /** Marketing jobs skip numbers suppressed since they were queued; without it nothing is suppressed. */
  suppressions?: SuppressionCheck;
  onLowBalanceAlert?: (alert: string) => void;
  /** Jobs in flight at once (they still queue for provider slots, fairly, in the budget). */
  concurrency?: number;
  pollIntervalMs?: number;
  /** The store belongs to this process alone (embedded SQLite): leases left by a crash are freed at start. */
  exclusiveStore: boolean;
  random?: () => number;
}

export interface SendWorker {
  start(): Promise<void>;
  /** A function property, not a method: it is handed around as a callback. */
  notify: () => void;
  /** One pass: claims what is due and waits for those jobs. */
  runOnce(): Promise<void>;
  stop(): Promise<void>;
}

/** Nothing was sent: the provider could not be reached, throttled us, or the budget had no slot in time. */
function notSent(error: unknown): boolean {
  if (error instanceof UpstreamError) return error.kind === 'unavailable' || error.kind === 'throttled';
  return isApiError(error) && (error.code === 'OVER_LIMIT' || error.code === 'UPSTREAM_UNAVAILABLE');
}

/**
 * Drains durable sends. Each job is claimed under a lease and marked `sending` in the store before
 * its provider call, so a job can be retried only after a failure that proves nothing was sent
 * (provider unreachable, throttled, no slot) — with backoff, until it expires — and a job found
 * `sending` after a crash is never resent: its messages become `unknown` and are reconciled from
 * delivery reports (matched by the batch's custom_string). Every job ends with each of its messages
 * in one final state (sent/scheduled, failed, expired or unknown), announced as `message.status`.
 */
export function createSendWorker(options: SendWorkerOptions): SendWorker {
  const { config, jobs, repository, sendThroughBudget, quotas, clock, logger } = options;
  const concurrency = options.concurrency ?? 32;
  const random = options.random ?? Math.random;
  const running = new Set<Promise<void>>();
  let timer: NodeJS.Timeout | undefined;
  let pass: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  const iso = (ms: number) => new Date(ms).toISOString();

  async function settle(job: SendJob, batch: MessageRecord[], outcomes: MessageOutcome[], error?: string) {
    const at = iso(clock.now());
    // Only what moves forward is applied and announced: a delivery report may already have
    // settled a message whose job a killed replica left `sending`.
    const { events } = await repository.recordOutcomes(outcomes, at, {
      messages: batch,
      hasWebhook: options.hasWebhook,
    });
    await jobs.finish(job.id, at, error);
    options.onEvents(events);
  }

  const all = (batch: MessageRecord[], status: string, error: string): MessageOutcome[] =>
    batch.map((m) => ({ id: m.id, status, error }));

  async function work(job: SendJob): Promise<void> {
    const batch = await repository.findBatch(job.batchId);
    const queued = JSON.parse(job.request) as QueuedSend;
    const now = clock.now();
    if (job.state === 'sending') {
      // The process holding it died during the provider call: it may have been sent. Never resend.
      const why = 'the gateway stopped during the provider call; the outcome comes from delivery reports';
      await settle(job, batch, all(batch, 'unknown', why), why);
      return;
    }
    // A number that opted out while the job waited is not sent either: `suppressed`, segments back.
    const { provider, reservation, suppressedNow } = await withoutSuppressed(job, queued, batch);
    const sending = new Set(provider.numbers); // a Set: a batch holds up to 1,000 numbers
    const toSend = batch.filter((m) => sending.has(m.recipient));
    const suppressedOutcomes = batch
      .filter((m) => suppressedNow.has(m.recipient))
      .map((m) => ({ id: m.id, status: 'suppressed', error: SUPPRESSED_REASON }));
    if (now >= Date.parse(job.expiresAt)) {
      await quotas.release(reservation);
      const expired = all(toSend, 'expired', 'not sent before it expired');
      await settle(job, batch, [...suppressedOutcomes, ...expired], 'expired');
      return;
    }
    if (toSend.length === 0) {
      await settle(job, batch, suppressedOutcomes);
      return;
    }
    const attempts = job.attempts + 1;
    try {
      // "sending" is stored once the slot is granted, right before the call: a job that was only
      // waiting for a slot when the process died is sent after the restart, not written off.
      const answer = await sendThroughBudget(job.tenantId, provider, () =>
        jobs.markSending(job.id, attempts, iso(clock.now())),
      );
      if (answer.lowBalanceAlert) options.onLowBalanceAlert?.(answer.lowBalanceAlert);
      const outcomes = outcomesOfAnswer(toSend, answer, provider.scheduleTime !== undefined);
      const refused = outcomes.filter((o) => o.status === 'failed').length;
      if (refused > 0) await quotas.release(reservation, refused * (batch[0]?.segments ?? 0));
      await settle(job, batch, [...suppressedOutcomes, ...outcomes]);
    } catch (error) {
      const reason = error instanceof Error ? error.message : 'send failed';
      if (notSent(error)) {
        // Backoff with jitter: 1 s, 2 s, 4 s … at most a minute, until the job expires.
        const delay = Math.min(60_000, 1000 * 2 ** Math.min(attempts - 1, 6)) * (0.8 + 0.4 * random());
        if (suppressedNow.size > 0) {
          const { events } = await repository.recordOutcomes(suppressedOutcomes, iso(clock.now()), {
            messages: batch,
            hasWebhook: options.hasWebhook,
          });
          options.onEvents(events);
        }
        await jobs.retryLater(job.id, iso(clock.now() + delay), reason, iso(clock.now()));
        logger.info(
          { batchId: job.batchId, attempt: attempts, retryInMs: Math.round(delay) },
          'async send not sent; will retry',
        );
      } else if (error instanceof UpstreamError && error.kind === 'timeout') {
        await settle(job, batch, [...suppressedOutcomes, ...all(toSend, 'unknown', reason)], reason);
      } else {
        await quotas.release(reservation);
        await settle(job, batch, [...suppressedOutcomes, ...all(toSend, 'failed', reason)], reason);
      }
    }
  }

  /**
   * The job's provider request without the numbers suppressed since it was queued (marketing only),
   * their segments given back once: a number an earlier attempt found suppressed is already
   * `suppressed` in the ledger and its segments already returned. The stored job is left as it is.
   */
  async function withoutSuppressed(job: SendJob, queued: QueuedSend, batch: MessageRecord[]) {
    const { numbers } = queued.provider;
    const perNumber = numbers.length > 0 ? queued.reservation.amount / numbers.length : 0;
    const earlier = new Set(batch.filter((m) => m.status === 'suppressed').map((m) => m.recipient));
    const check = queued.purpose === 'marketing' ? options.suppressions : undefined;
    const suppressedNow = check
      ? await check.suppressedAmong(
          job.tenantId,
          numbers.filter((n) => !earlier.has(n)),
        )
      : new Set<string>();
    if (suppressedNow.size > 0) await quotas.release(queued.reservation, perNumber * suppressedNow.size);
    const kept = numbers.filter((n) => !earlier.has(n) && !suppressedNow.has(n));
    return {
      provider: { ...queued.provider, numbers: kept },
      reservation: shrunk(queued.reservation, kept.length, numbers.length),
      suppressedNow,
    };
  }

  /** The part of a reservation that `kept` of `all` numbers hold (segments and credits alike). */
  function shrunk(reservation: QueuedSend['reservation'], kept: number, all: number) {
    if (kept === all || all === 0) return reservation;
    const { centiCredits } = reservation;
    return {
      ...reservation,
      amount: (reservation.amount * kept) / all,
      ...(centiCredits !== undefined ? { centiCredits: Math.round((centiCredits * kept) / all) } : {}),
    };
  }

  async function runPass(): Promise<Promise<void>[]> {
    const started: Promise<void>[] = [];
    do {
      again = false;
      const free = concurrency - running.size;
      if (free <= 0 || stopped) break;
      const now = clock.now();
      // The lease covers the wait for a slot and the call; a crashed holder's job comes back after it.
      const lease = iso(now + config.upstream.maxQueueWaitMs + config.upstream.timeoutMs + 30_000);
      for (const job of await jobs.claimDue(iso(now), lease, free)) {
        const done = work(job)
          .catch((error: unknown) =>
            logger.error({ err: error, batchId: job.batchId }, 'async send job failed'),
          )
          .finally(() => {
            running.delete(done);
            notify();
          });
        running.add(done);
        started.push(done);
      }
    } while (again && !stopped);
    return started;
  }

  function notify(): void {
    if (stopped) return;
    if (pass) {
      again = true;
      return;
    }
    pass = runPass()
      .then(() => undefined)
      .catch((error: unknown) => logger.error({ err: error }, 'async send pass failed'))
      .finally(() => {
        pass = undefined;
      });
  }

  return {
    async start() {
      if (options.exclusiveStore) await jobs.releaseAllLeases();
      timer = setInterval(notify, options.pollIntervalMs ?? 1000);
      timer.unref();
      notify();
    },
    notify,
    async runOnce() {
      while (pass) await pass;
      await Promise.all([...running]);
      await Promise.all(await runPass());
    },
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      await pass;
      await Promise.all([...running]);
    },
  };
}
