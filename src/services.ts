import { createAuthenticator, identityOf } from './auth';
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
  type MessagesRoutesDeps,
  type SendWorker,
} from './messages';
import { createMetrics, type Logger, type Metrics } from './observability';
import {
  createLocalSlotSource,
  createRedisSlotSource,
  createSendCoalescer,
  createUpstreamBudget,
  type SlotSource,
  type UpstreamBudget,
} from './scheduler';
import type { Db, StoredEvent, Stores } from './store';
import { createUpstreamClient, type UpstreamClient } from './upstream';
import { createExpirySweeper, createVerifier, type Verifier } from './verify';
import type { RequestHandler } from 'express';

export interface GatewayRuntime {
  db: Db;
  clock: Clock;
  logger: Logger;
  /** The store belongs to this process alone (embedded SQLite); default true. */
  exclusiveStore?: boolean;
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
  authenticate: RequestHandler;
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
  /** Phone verification codes (POST /v1/verifications). */
  verifier: Verifier;
  /** In the order they are started; stopped in reverse. */
  resources: Resource[];
}

/** Builds the gateway's services from its config and stores; no route and no HTTP here. */
export function createServices(config: Config, stores: Stores, runtime: GatewayRuntime): Services {
  const { clock, logger } = runtime;
  if (!config.upstream.appKey) throw new Error('upstream.appKey is required');
  const exclusiveStore = runtime.exclusiveStore ?? true;
  const metrics = createMetrics();
  const upstream = createUpstreamClient({
    baseUrl: config.upstream.baseUrl,
    authMode: config.upstream.authMode,
    appKey: config.upstream.appKey,
    timeoutMs: config.upstream.timeoutMs,
    onCall: metrics.providerCall,
  });
  const budget = createUpstreamBudget({
    slots: createSlotSource(config, clock, logger),
    callsPerSecond: config.upstream.callsPerSecond,
    weightOf: (tenantId) => config.tenants[tenantId]?.weight ?? 1,
    maxQueueWaitMs: config.upstream.maxQueueWaitMs,
    maxQueueLength: config.upstream.maxQueueLength,
    clock,
    onAdmitted: metrics.budgetAdmitted,
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
  const authenticate = createAuthenticator(config.auth, config.tenants);
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
    onAttempt: metrics.webhookAttempt,
  });
  const onEvents = (events: StoredEvent[]) => {
    if (events.length === 0) return;
    hub.publish(events);
    webhooks.notify();
  };
  // Durable sends (Prefer: respond-async): committed with their messages, sent by this worker.
  const sendWorker = createSendWorker({
    config,
    jobs: stores.sendJobs,
    repository: stores.messages,
    sendThroughBudget,
    quotas,
    clock,
    logger,
    hasWebhook,
    onEvents,
    exclusiveStore,
  });
  const sendMessages = createMessageSender({
    config,
    repository: stores.messages,
    sendThroughBudget,
    quotas,
    clock,
    logger,
    onQueued: sendWorker.notify,
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
  const receiveInbound = createInboundIntake(config, stores.inbound, clock, onEvents);
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
      repository: stores.messages,
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
    verifier,
    resources: [
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
  });
}
