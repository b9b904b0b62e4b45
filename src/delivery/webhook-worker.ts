import type { Clock } from '../clock';
import type { Config } from '../config';
import type { Logger } from '../observability';
import { ADMIN_CHANNEL, type DueDelivery, type OutboxRepository } from '../store';
import { nextRetryDelayMs } from './retry-schedule';
import type { AttemptOutcome, DeliverWebhook, WebhookTarget } from './webhook-sender';

export interface WebhookWorkerOptions {
  config: Config;
  outbox: OutboxRepository;
  deliver: DeliverWebhook;
  clock: Clock;
  logger: Logger;
  /** The store belongs to this process alone (embedded SQLite): leases left by a crash are freed at start. */
  exclusiveStore: boolean;
  random?: () => number;
  /** Told the outcome of every attempt. */
  onAttempt?: (outcome: 'delivered' | 'failed' | 'gone' | 'dead', tenantId: string) => void;
}

export interface WebhookWorker {
  start(): Promise<void>;
  /** New events are waiting: look now rather than at the next poll. (A property: it is handed around.) */
  notify: () => void;
  /** One pass: claims what is due and waits for those attempts to finish. */
  runOnce(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Drains the webhook outbox. A row is claimed under a lease (so several workers or replicas never
 * send it twice at once, and a crashed worker's rows come back), attempted once, then marked done,
 * rescheduled with backoff and jitter, or dead-lettered. Concurrency is bounded overall and per
 * tenant, so one hanging receiver cannot delay the others' deliveries.
 */
export function createWebhookWorker(options: WebhookWorkerOptions): WebhookWorker {
  const { config, outbox, deliver, clock, logger } = options;
  const settings = config.webhooks;
  const random = options.random ?? Math.random;
  const inFlight = new Map<string, number>();
  const running = new Set<Promise<void>>();
  let total = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let pass: Promise<void> | undefined;
  let again = false;

  const iso = (ms: number) => new Date(ms).toISOString();

  function targetOf(tenantId: string): WebhookTarget | undefined {
    const webhook: { url: string; secret: string; previousSecret?: string | undefined } | undefined =
      tenantId === ADMIN_CHANNEL ? config.adminEvents.webhook : config.tenants[tenantId]?.webhook;
    if (!webhook) return undefined;
    const previous = webhook.previousSecret;
    const secrets = [webhook.secret, ...(previous ? [previous] : [])];
    return { url: webhook.url, secrets };
  }

  async function attempt(delivery: DueDelivery): Promise<void> {
    const attempts = delivery.attempts + 1;
    const startedAt = clock.now();
    const target = targetOf(delivery.tenantId);
    let outcome: AttemptOutcome;
    if (!target) outcome = { kind: 'failed', status: null, error: 'tenant has no webhook configured' };
    else if (await outbox.isEndpointDisabled(delivery.tenantId, target.url))
      outcome = { kind: 'failed', status: null, error: 'endpoint disabled (it answered 410 Gone)' };
    else outcome = await deliver(target, delivery.eventId, delivery.payload, new Date(startedAt));
    const record = {
      attempts: target ? attempts : delivery.attempts,
      status: outcome.status,
      error: outcome.kind === 'failed' ? outcome.error : null,
      at: iso(clock.now()),
    };
    const log = {
      eventId: delivery.eventId,
      tenant: delivery.tenantId,
      attempt: attempts,
      status: outcome.status,
    };
    options.onAttempt?.(outcome.kind === 'gone' ? 'gone' : outcome.kind, delivery.tenantId);
    if (outcome.kind === 'delivered') {
      await outbox.markDelivered(delivery.id, record);
      logger.debug(log, 'webhook delivered');
      return;
    }
    if (outcome.kind === 'gone' && target) {
      await outbox.disableEndpoint(delivery.tenantId, target.url, '410 Gone', record.at);
      await outbox.markDead(delivery.id, { ...record, error: '410 Gone: endpoint disabled' });
      logger.warn(log, 'webhook endpoint answered 410 Gone: disabled until an admin re-enables it');
      return;
    }
    const permanent = !target || record.error?.startsWith('endpoint disabled');
    const delay = permanent
      ? null
      : nextRetryDelayMs(
          attempts,
          settings.retryScheduleSec,
          settings.jitter,
          random,
          outcome.kind === 'failed' ? outcome.retryAfterMs : undefined,
        );
    if (delay === null) {
      options.onAttempt?.('dead', delivery.tenantId);
      await outbox.markDead(delivery.id, record);
      logger.warn({ ...log, error: record.error }, 'webhook dead-lettered');
    } else {
      await outbox.scheduleRetry(delivery.id, record, iso(clock.now() + delay));
      logger.info({ ...log, error: record.error, retryInMs: delay }, 'webhook attempt failed; will retry');
    }
  }

  function release(tenantId: string): void {
    inFlight.set(tenantId, (inFlight.get(tenantId) ?? 1) - 1);
    total -= 1;
  }

  function hasRoom(tenantId: string): boolean {
    return (inFlight.get(tenantId) ?? 0) < settings.perTenantConcurrency;
  }

  async function claimAndStart(): Promise<Promise<void>[]> {
    const free = settings.concurrency - total;
    if (free <= 0 || stopped) return [];
    const now = clock.now();
    // The lease outlives one attempt; an expired lease means the worker holding it died.
    const leaseUntil = iso(now + settings.timeoutMs + 30_000);
    const claimed = await outbox.claimDue(iso(now), leaseUntil, free, {
      take(tenantId) {
        if (!hasRoom(tenantId)) return false;
        inFlight.set(tenantId, (inFlight.get(tenantId) ?? 0) + 1);
        total += 1;
        return true;
      },
      giveBack: release,
    });
    return claimed.map((delivery) => track(delivery));
  }

  function track(delivery: DueDelivery): Promise<void> {
    const done = attempt(delivery)
      .catch((error: unknown) => {
        logger.error({ err: error, eventId: delivery.eventId }, 'webhook attempt could not be recorded');
      })
      .finally(() => {
        release(delivery.tenantId);
        running.delete(done);
        notify();
      });
    running.add(done);
    return done;
  }

  async function runPass(): Promise<Promise<void>[]> {
    const started: Promise<void>[] = [];
    do {
      again = false;
      started.push(...(await claimAndStart()));
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
      .catch((error: unknown) => logger.error({ err: error }, 'webhook outbox pass failed'))
      .finally(() => {
        pass = undefined;
      });
  }

  return {
    async start() {
      if (options.exclusiveStore) await outbox.releaseAllLeases();
      timer = setInterval(notify, settings.pollIntervalMs);
      timer.unref();
      notify();
    },
    notify,
    async runOnce() {
      while (pass) await pass;
      await Promise.all([...running]);
      const started = await runPass();
      await Promise.all(started);
    },
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      await pass;
      await Promise.all([...running]);
    },
  };
}
