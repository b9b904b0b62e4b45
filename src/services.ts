import { createAuthenticator, identityOf, type Authenticator, type TrustedIssuer } from './auth';
import {
  createDeliveryReportIntake,
  createInboundBackstop,
  createInboundIntake,
  type CallbackIntakes,
  type InboundBackstop,
} from './callbacks';
import type { Clock } from './clock';
import type { Config } from './config';
import {
  createEventHub,
  createEventStreams,
  createWebhookSender,
  createWebhookWorker,
  type EventHub,
  type EventStreams,
  type WebhookWorker,
} from './delivery';
import { createEgressPolicy } from './egress';
import type { FormsDeps } from './forms';
import { createLimiterStores, createQuotaService, createTenantRateLimit, quotaUsage } from './limits';
import type { QuotaService, TenantRateLimit } from './limits';
import {
  createMessageSender,
  createSendWorker,
  createIdempotencySweeper,
  idempotency,
  phoneNumberPatternsCached,
  type MessagesRoutesDeps,
  type SendWorker,
} from './messages';
import { createMetrics, type Logger, type Metrics } from './observability';
import { createAcknowledger, createOptOutImporter, type Acknowledger, type OptOutImporter } from './optouts';
import { createAccountMonitor, type AccountMonitor } from './spend';
import {
  createLocalSlotSource,
  createRedisSlotSource,
  createSendCoalescer,
  createUpstreamBudget,
  type SlotSource,
  type UpstreamBudget,
} from './scheduler';
import type { Db, MessageRepository, StoredEvent, Stores } from './store';
import { createConsoleRecorder, type ConsoleRecorder } from './console';
import { createUpstreamClient, type UpstreamClient } from './upstream';
import { createExpirySweeper, createVerifier, type Verifier } from './verify';
import type { RequestHandler } from 'express';

export interface GatewayRuntime {
  db: Db;
  clock: Clock;
  logger: Logger;
  /** The store belongs to this process alone (embedded SQLite); default true. */
  exclusiveStore?: boolean;
  /** Sandbox mode: the identity-provider stand-in, whose tokens are accepted beside auth.*'s. */
  trustedIssuer?: TrustedIssuer;
}

/** Something the gateway holds open: started (if it has work of its own) and stopped. */
export interface Resource {
  name: string;
  start?(): Promise<void> | void;
  stop(): Promise<void> | void;
}

export interface Services {
  metrics: Metrics;
  upstream: UpstreamClient;
  budget: UpstreamBudget;
  quotas: QuotaService;
  authenticate: Authenticator;
  rateLimit: TenantRateLimit;
  /** Live events across replicas (SSE). */
  events: EventHub;
  webhooks: WebhookWorker;
  /** The durable send worker (Prefer: respond-async). */
  sends: SendWorker;
  streams: EventStreams;
  backstop: InboundBackstop;
  intakes: CallbackIntakes;
  /** Publishes stored events live and wakes the webhook worker. */
  announce: (events: StoredEvent[]) => void;
  messages: MessagesRoutesDeps;
  forms: FormsDeps;
  /** The console's usage counters (per tenant and minute) and live account view. */
  recorder: ConsoleRecorder;
  /** The provider opt-out list import and the tenants' acknowledgements of opt-outs. */
  optOuts: { importer: OptOutImporter; acknowledger: Acknowledger };
  /** The provider balance and the low-balance alarm. */
  account: AccountMonitor;
  /** Phone verification codes (POST /v1/verifications). */
  verifier: Verifier;
  /** In the order they are started; stopped in reverse. */
  resources: Resource[];
}

/** Builds the gateway's services from its config and stores; no route and no HTTP here. */
export function createServices(config: Config, stores: Stores, runtime: GatewayRuntime): Services {
  const { clock, logger } = runtime;
  if (!config.upstream.appKey) throw new Error('upstream.appKey is required');
  if (!phoneNumberPatternsCached) {
    logger.warn(
      { event: 'phone_numbers.patterns_not_cached' },
      "libphonenumber's helper was not found where src/messages/phone-number.ts expects it (another release of libphonenumber-js?): numbers are parsed as the library ships, about twice as slowly",
    );
  }
  const exclusiveStore = runtime.exclusiveStore ?? true;
  const metrics = createMetrics();
  const recorder = createConsoleRecorder({
    rollups: stores.rollups,
    clock,
    logger,
    queueDepth: () => budget.queueLength(),
    flushIntervalMs: config.console.flushIntervalMs,
    minuteRetentionHours: config.console.minuteRetentionHours,
    hourRetentionDays: config.console.hourRetentionDays,
  });
  const upstream = createUpstreamClient({
    baseUrl: config.upstream.baseUrl,
    authMode: config.upstream.authMode,
    appKey: config.upstream.appKey,
    timeoutMs: config.upstream.timeoutMs,
    onCall: (endpoint, outcome, seconds) => {
      metrics.providerCall(endpoint, outcome, seconds);
      recorder.providerCall(outcome);
    },
  });
  const budget = createUpstreamBudget({
    slots: createSlotSource(config, clock, logger),
    callsPerSecond: config.upstream.callsPerSecond,
    weightOf: (tenantId) => config.tenants[tenantId]?.weight ?? 1,
    maxQueueWaitMs: config.upstream.maxQueueWaitMs,
    maxQueueLength: config.upstream.maxQueueLength,
    clock,
    writeWithinMs: config.upstream.windowMarginMs,
    onAdmitted: (tenantId, waitedMs) => {
      metrics.budgetAdmitted(tenantId, waitedMs);
      recorder.admitted(tenantId, waitedMs);
    },
  });
  const quotas = createQuotaService(config, stores.quotas, clock);
  const sendThroughBudget = createSendCoalescer({
    budget,
    upstream,
    clock,
    enabled: config.upstream.coalesce.enabled,
    windowMs: config.upstream.coalesce.windowMs,
    maxNumbers: config.messages.maxRecipients,
    bulkSend: config.upstream.bulkSend,
  });
  const authenticate = createAuthenticator(config.auth, config.tenants, runtime.trustedIssuer);
  const rateLimit = createTenantRateLimit({
    tenants: config.tenants,
    keyPrefix: config.redis.keyPrefix,
    ...(config.redis.url ? { redisUrl: config.redis.url } : {}),
    logger,
  });

  // Events: stored with their outbox rows by the intakes, then pushed live and delivered by webhook.
  const hasWebhook = (tenantId: string) => config.tenants[tenantId]?.webhook !== undefined;
  const hub = createEventHub({
    ...(config.redis.url ? { redisUrl: config.redis.url } : {}),
    channel: `${config.redis.keyPrefix}:events`,
    logger,
  });
  const webhooks = createWebhookWorker({
    config,
    outbox: stores.outbox,
    deliver: createWebhookSender({
      policy: createEgressPolicy(config.webhooks.allowPrivateTargets),
      timeoutMs: config.webhooks.timeoutMs,
    }),
    clock,
    logger,
    exclusiveStore,
    onAttempt: (outcome, tenantId) => {
      metrics.webhookAttempt(outcome);
      recorder.count(tenantId, `webhook_${outcome}`);
    },
  });
  const onEvents = (events: StoredEvent[]) => {
    if (events.length === 0) return;
    for (const event of events) countEvent(recorder, event);
    hub.publish(events);
    webhooks.notify();
  };
  const ledger = countingLedger(stores.messages, recorder);
  const account = createAccountMonitor({
    config,
    budget,
    upstream,
    account: stores.account,
    clock,
    logger,
    onEvents,
  });
  // Durable sends (Prefer: respond-async): committed with their messages, sent by this worker.
  const sendWorker = createSendWorker({
    config,
    jobs: stores.sendJobs,
    repository: ledger,
    sendThroughBudget,
    quotas,
    clock,
    logger,
    hasWebhook,
    onEvents,
    exclusiveStore,
    suppressions: stores.suppressions,
    onLowBalanceAlert: account.providerAlert,
  });
  const sendMessages = createMessageSender({
    config,
    repository: ledger,
    sendThroughBudget,
    quotas,
    clock,
    logger,
    onQueued: sendWorker.notify,
    suppressions: stores.suppressions,
    onLowBalanceAlert: account.providerAlert,
  });
  const streams = createEventStreams({
    config,
    events: stores.events,
    hub,
    clock,
    logger,
    authenticate,
    rateLimit: rateLimit.middleware,
  });
  const acknowledger = createAcknowledger({
    config,
    suppressions: stores.suppressions,
    sendMessages,
    clock,
    logger,
  });
  const receiveInbound = createInboundIntake(
    config,
    stores.inbound,
    clock,
    onEvents,
    acknowledger.acknowledge,
  );
  const optOutImporter = createOptOutImporter({
    budget,
    upstream,
    suppressions: stores.suppressions,
    defaultRegion: config.messages.defaultRegion,
    intervalMs: config.optOuts.importIntervalMs,
    clock,
    logger,
    onEvents,
  });
  const backstop = createInboundBackstop({
    budget,
    upstream,
    receiveInbound,
    intervalMs: config.inbound.pollIntervalMs,
    logger,
  });
  metrics.watch({
    queueDepth: () => budget.queueLength(),
    sseConnections: streams.open,
    quotaUsage: () => quotaUsage(config, quotas),
    balance: () => account.lastSeen(),
  });
  const formStores = createLimiterStores({
    redisUrl: config.redis.url,
    keyPrefix: config.redis.keyPrefix,
    logger,
    purpose: 'form limits',
    whileDown: 'form posts are refused',
  });
  const idempotencySweeper = createIdempotencySweeper({
    repository: stores.idempotencyKeys,
    clock,
    logger,
    intervalMs: config.idempotency.sweepIntervalSec * 1000,
    batchSize: config.idempotency.sweepBatchSize,
  });
  const idempotent = (scopeOf: (req: Parameters<RequestHandler>[0]) => string) =>
    idempotency({
      repository: stores.idempotencyKeys,
      retentionSec: config.idempotency.retentionSec,
      clock,
      logger,
      scopeOf,
    });

  const verifier = createVerifier({
    config,
    repository: stores.verifications,
    sendMessages,
    clock,
    logger,
    onEvents,
  });
  const verificationSweeper = createExpirySweeper(
    verifier,
    clock,
    logger,
    config.verification.sweepIntervalSec * 1000,
  );
  const verifies = Object.values(config.tenants).some((tenant) => tenant.verification !== undefined);

  return {
    metrics,
    upstream,
    budget,
    quotas,
    authenticate,
    rateLimit,
    events: hub,
    webhooks,
    sends: sendWorker,
    streams,
    backstop,
    announce: onEvents,
    intakes: {
      receiveDeliveryReports: createDeliveryReportIntake(stores.deliveryReports, clock, onEvents),
      receiveInbound,
    },
    messages: {
      sendMessages,
      repository: ledger,
      idempotent: idempotent((req) => identityOf(req).tenantId),
    },
    forms: {
      config,
      sendMessages,
      replies: stores.formReplies,
      stores: formStores,
      clock,
      logger,
      idempotent: idempotent((req) => `form:${String(req.params.formId)}`),
    },
    recorder,
    optOuts: { importer: optOutImporter, acknowledger },
    account,
    verifier,
    resources: [
      { name: 'console counters', start: () => recorder.start(), stop: () => recorder.stop() },
      { name: 'form limiter stores', stop: () => formStores.close() },
      { name: 'tenant rate limit', stop: () => rateLimit.close() },
      { name: 'provider client', stop: () => upstream.close() },
      { name: 'event hub', stop: () => hub.close() },
      { name: 'webhook worker', start: () => webhooks.start(), stop: () => webhooks.stop() },
      { name: 'send worker', start: () => sendWorker.start(), stop: () => sendWorker.stop() },
      // Stopped before the workers that wait in it: calls still waiting for a provider slot are
      // refused (not sent) and their jobs stay queued for a restart.
      { name: 'upstream budget', stop: () => budget.stop() },
      { name: 'inbound backstop', start: () => backstop.start(), stop: () => backstop.stop() },
      { name: 'opt-out import', start: () => optOutImporter.start(), stop: () => optOutImporter.stop() },
      { name: 'balance poller', start: () => account.start(), stop: () => account.stop() },
      { name: 'opt-out acknowledgements', stop: () => acknowledger.idle() },
      {
        name: 'idempotency sweeper',
        start: () => idempotencySweeper.start(),
        stop: () => idempotencySweeper.stop(),
      },
      ...(verifies
        ? [
            {
              name: 'verification expiry sweeper',
              start: () => verificationSweeper.start(),
              stop: () => verificationSweeper.stop(),
            },
          ]
        : []),
      // Stopped first: clients reconnect elsewhere with Last-Event-ID.
      { name: 'event streams', stop: () => streams.closeAll() },
    ],
  };
}

/**
 * One node: an in-process sliding log. Several replicas (redis.url set): one sliding log in Redis,
 * falling back to this replica's share of the cap (callsPerSecond / cluster.replicas) while Redis
 * is unreachable, so the account's cap holds either way.
 */
function createSlotSource(config: Config, clock: Clock, logger: Logger): SlotSource {
  const windowMs = 1000 + config.upstream.windowMarginMs;
  if (!config.redis.url) {
    return createLocalSlotSource(config.upstream.callsPerSecond, windowMs, clock, {
      pace: config.upstream.paceGrants,
      burst: config.upstream.grantBurst,
    });
  }
  return createRedisSlotSource({
    url: config.redis.url,
    keyPrefix: `${config.redis.keyPrefix}:upstream`,
    limit: config.upstream.callsPerSecond,
    windowMs,
    replicas: config.cluster.replicas,
    clock,
    logger,
    burst: config.upstream.grantBurst,
  });
}

/** The ledger, counting what it records for the console: messages and segments per tenant and minute. */
function countingLedger(messages: MessageRepository, recorder: ConsoleRecorder): MessageRepository {
  return {
    ...messages,
    async insertBatch(batch, job) {
      await messages.insertBatch(batch, job);
      // Summed per tenant first: two counts per batch, not two per message (a 1,000-number
      // batch's 2,000 counts took ~2 ms of one event-loop turn).
      const sums = new Map<string, { messages: number; segments: number }>();
      for (const message of batch) {
        const sum = sums.get(message.tenantId) ?? { messages: 0, segments: 0 };
        sum.messages += 1;
        sum.segments += message.segments;
        sums.set(message.tenantId, sum);
      }
      for (const [tenantId, sum] of sums) {
        recorder.count(tenantId, 'messages', sum.messages);
        recorder.count(tenantId, 'segments', sum.segments);
      }
    },
  };
}

/** An event for a tenant, counted by type (and a message's new status). */
function countEvent(recorder: ConsoleRecorder, event: StoredEvent): void {
  recorder.count(event.tenantId, `event:${event.type}`);
  if (event.type !== 'message.status') return;
  try {
    const body = JSON.parse(event.payload) as { data?: { status?: unknown } };
    if (typeof body.data?.status === 'string') recorder.count(event.tenantId, `status:${body.data.status}`);
  } catch {
    // An event body is ours and always JSON; a counter is not worth a failure.
  }
}
