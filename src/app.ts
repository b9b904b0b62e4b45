import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import express, { type Express } from 'express';
import helmet from 'helmet';
import { sql } from 'kysely';
import { upstreamPassThroughRouter } from './admin';
import { clientCredentialsRouter, createAuthenticator, identityOf } from './auth';
import {
  callbacksRouter,
  createDeliveryReportIntake,
  createInboundBackstop,
  createInboundIntake,
  inboundRouter,
  type InboundBackstop,
} from './callbacks';
import type { Clock } from './clock';
import type { Config } from './config';
import {
  createEventHub,
  createEventStreams,
  createWebhookSender,
  createWebhookWorker,
  webhookAdminRouter,
  type EventHub,
  type EventStreams,
  type WebhookWorker,
} from './delivery';
import { createEgressPolicy } from './egress';
import { demoPages, formsRouter } from './forms';
import { openApiRouter } from './openapi';
import { accessLog, errorHandler, healthRouter, notFound, requireHttps } from './http';
import { createLimiterStores, createQuotaService, createTenantRateLimit, usageRouter } from './limits';
import {
  createMessageSender,
  createSendWorker,
  idempotency,
  messagesRouter,
  type SendWorker,
} from './messages';
import { createMetrics, metricsRouter, type Logger, type Metrics } from './observability';
import {
  createLocalSlotSource,
  createRedisSlotSource,
  createSendCoalescer,
  createUpstreamBudget,
  type SlotSource,
} from './scheduler';
import {
  createDeliveryReportRepository,
  createEventRepository,
  createFormReplyRepository,
  createIdempotencyRepository,
  createInboundRepository,
  createMessageRepository,
  createOutboxRepository,
  createQuotaRepository,
  createSendJobRepository,
  type Db,
  type StoredEvent,
} from './store';
import { createUpstreamClient } from './upstream';

export interface GatewayRuntime {
  db: Db;
  clock: Clock;
  logger: Logger;
  /** The store belongs to this process alone (embedded SQLite); default true. */
  exclusiveStore?: boolean;
}

export interface Gateway {
  app: Express;
  metrics: Metrics;
  webhooks: WebhookWorker;
  sends: SendWorker;
  backstop: InboundBackstop;
  events: EventHub;
  streams: EventStreams;
  /** Starts the background work: the webhook outbox worker and the inbound backstop poller. */
  start(): Promise<void>;
  /** Marks the gateway as draining: readiness fails and queued provider calls are refused. */
  beginShutdown(): void;
  close(): Promise<void>;
}

/** Composes the Express app from the capability modules; nothing else happens here. */
export function createGateway(config: Config, runtime: GatewayRuntime): Gateway {
  const { db, clock, logger } = runtime;
  if (!config.upstream.appKey) throw new Error('upstream.appKey is required');
  let shuttingDown = false;
  const metrics = createMetrics();
  const repository = createMessageRepository(db);
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
  const quotas = createQuotaService(config, createQuotaRepository(db), clock);
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
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.http.trustProxy);
  app.set('query parser', 'simple');
  app.use(metrics.httpMetrics);
  // While draining, every answer asks its keep-alive client to reconnect (to another replica).
  app.use((_req, res, next) => {
    if (shuttingDown) res.setHeader('Connection', 'close');
    next();
  });
  app.use(accessLog(logger));
  // HSTS only where the browser really reaches us over TLS: our own, or a TLS proxy we trust.
  const overTls = config.tls.certFile !== undefined || config.http.trustProxy > 0;
  app.use(
    helmet({
      strictTransportSecurity: overTls
        ? { maxAge: config.tls.hstsMaxAgeSec, includeSubDomains: true }
        : false,
    }),
  );
  app.use(requireHttps({ enabled: config.http.requireHttps, sandbox: config.mode === 'sandbox' }));
  app.use(express.json({ limit: config.http.bodyLimit, strict: true }));
  app.use(
    healthRouter(
      [{ name: 'store', check: async () => void (await sql`select 1`.execute(db)) }],
      () => shuttingDown,
    ),
  );
  // Events: stored with their outbox rows by the intakes, then pushed live and delivered by webhook.
  const hasWebhook = (tenantId: string) => config.tenants[tenantId]?.webhook !== undefined;
  const outbox = createOutboxRepository(db);
  const hub = createEventHub({
    ...(config.redis.url ? { redisUrl: config.redis.url } : {}),
    channel: `${config.redis.keyPrefix}:events`,
    logger,
  });
  const webhooks = createWebhookWorker({
    config,
    outbox,
    deliver: createWebhookSender({
      policy: createEgressPolicy(config.webhooks.allowPrivateTargets),
      timeoutMs: config.webhooks.timeoutMs,
    }),
    clock,
    logger,
    exclusiveStore: runtime.exclusiveStore ?? true,
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
    jobs: createSendJobRepository(db),
    repository,
    sendThroughBudget,
    quotas,
    clock,
    logger,
    hasWebhook,
    onEvents,
    exclusiveStore: runtime.exclusiveStore ?? true,
  });
  const sendMessages = createMessageSender({
    config,
    repository,
    sendThroughBudget,
    quotas,
    clock,
    logger,
    onQueued: sendWorker.notify,
  });
  const streams = createEventStreams({ config, events: createEventRepository(db), hub, clock, authenticate });
  const inbound = createInboundRepository(db, hasWebhook);
  const receiveInbound = createInboundIntake(config, inbound, clock, onEvents);
  const backstop = createInboundBackstop({
    budget,
    upstream,
    receiveInbound,
    intervalMs: config.inbound.pollIntervalMs,
    logger,
  });
  app.use(
    callbacksRouter(config.callbacks, {
      receiveDeliveryReports: createDeliveryReportIntake(
        createDeliveryReportRepository(db, hasWebhook),
        clock,
        onEvents,
      ),
      receiveInbound,
    }),
  );
  metrics.watch({
    queueDepth: budget.queueLength,
    sseConnections: streams.open,
    quotaUsage: async () =>
      (
        await Promise.all(
          Object.keys(config.tenants).map(async (tenant) =>
            (await quotas.status(tenant)).map((q) => ({
              tenant,
              quota: q.name,
              used: q.used,
              limit: q.limit,
            })),
          ),
        )
      ).flat(),
  });
  app.use(metricsRouter(metrics, config.metrics.token));
  app.use(openApiRouter(packageVersion()));
  const formStores = createLimiterStores(config.redis.url, config.redis.keyPrefix);
  const idempotencyKeys = createIdempotencyRepository(db);
  app.use(
    formsRouter({
      config,
      sendMessages,
      replies: createFormReplyRepository(db),
      stores: formStores,
      clock,
      logger,
      idempotent: idempotency({
        repository: idempotencyKeys,
        retentionSec: config.idempotency.retentionSec,
        clock,
        logger,
        scopeOf: (req) => `form:${String(req.params.formId)}`,
      }),
    }),
  );
  if (config.mode === 'sandbox') app.use(demoPages());
  app.use(streams.streamRouter);
  app.use(clientCredentialsRouter(config));
  app.use('/v1', authenticate, rateLimit.middleware);
  app.use(
    messagesRouter({
      sendMessages,
      repository,
      idempotent: idempotency({
        repository: idempotencyKeys,
        retentionSec: config.idempotency.retentionSec,
        clock,
        logger,
        scopeOf: (req) => identityOf(req).tenantId,
      }),
    }),
  );
  app.use(inboundRouter(inbound));
  app.use(streams.ticketRouter);
  app.use(usageRouter(config, quotas));
  app.use(webhookAdminRouter(config, outbox, clock, webhooks.notify));
  app.use(upstreamPassThroughRouter(budget, upstream));
  app.use(notFound());
  app.use(errorHandler(logger));

  return {
    app,
    metrics,
    webhooks,
    sends: sendWorker,
    backstop,
    events: hub,
    streams,
    async start() {
      await webhooks.start();
      await sendWorker.start();
      backstop.start();
    },
    beginShutdown() {
      shuttingDown = true;
      streams.closeAll();
    },
    async close() {
      shuttingDown = true;
      streams.closeAll();
      await backstop.stop();
      // Jobs still waiting for a provider slot are refused (not sent) and stay queued for a restart.
      budget.stop();
      await sendWorker.stop();
      await webhooks.stop();
      await hub.close();
      upstream.close();
      rateLimit.close();
      formStores.close();
    },
  };
}

function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(resolve(__dirname, '../package.json'), 'utf8')) as {
    version?: string;
  };
  return manifest.version ?? '0.0.0';
}

/**
 * One node: an in-process sliding log. Several replicas (redis.url set): one sliding log in Redis,
 * falling back to this replica's share of the cap (callsPerSecond / cluster.replicas) while Redis
 * is unreachable, so the account's cap holds either way.
 */
function createSlotSource(config: Config, clock: Clock, logger: Logger): SlotSource {
  const windowMs = 1000 + config.upstream.windowMarginMs;
  if (!config.redis.url) return createLocalSlotSource(config.upstream.callsPerSecond, windowMs, clock);
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
