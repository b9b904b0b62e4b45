import express, { type Express } from 'express';
import helmet from 'helmet';
import { sql } from 'kysely';
import { createAuthenticator } from './auth';
import { callbacksRouter, createDeliveryReportIntake, createInboundIntake, inboundRouter } from './callbacks';
import type { Clock } from './clock';
import type { Config } from './config';
import { accessLog, errorHandler, healthRouter, notFound, requireHttps } from './http';
import { createQuotaService, createTenantRateLimit, usageRouter } from './limits';
import { createMessageSender, messagesRouter } from './messages';
import type { Logger } from './observability';
import {
  createLocalSlotSource,
  createRedisSlotSource,
  createSendCoalescer,
  createUpstreamBudget,
  type SlotSource,
} from './scheduler';
import {
  createDeliveryReportRepository,
  createInboundRepository,
  createMessageRepository,
  createQuotaRepository,
  type Db,
} from './store';
import { createUpstreamClient } from './upstream';

export interface GatewayRuntime {
  db: Db;
  clock: Clock;
  logger: Logger;
}

export interface Gateway {
  app: Express;
  /** Marks the gateway as draining: readiness fails and queued provider calls are refused. */
  beginShutdown(): void;
  close(): Promise<void>;
}

/** Composes the Express app from the capability modules; nothing else happens here. */
export function createGateway(config: Config, { db, clock, logger }: GatewayRuntime): Gateway {
  if (!config.upstream.appKey) throw new Error('upstream.appKey is required');
  let shuttingDown = false;
  const repository = createMessageRepository(db);
  const upstream = createUpstreamClient({
    baseUrl: config.upstream.baseUrl,
    authMode: config.upstream.authMode,
    appKey: config.upstream.appKey,
    timeoutMs: config.upstream.timeoutMs,
  });
  const budget = createUpstreamBudget({
    slots: createSlotSource(config, clock, logger),
    callsPerSecond: config.upstream.callsPerSecond,
    weightOf: (tenantId) => config.tenants[tenantId]?.weight ?? 1,
    maxQueueWaitMs: config.upstream.maxQueueWaitMs,
    maxQueueLength: config.upstream.maxQueueLength,
    clock,
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
  const sendMessages = createMessageSender({ config, repository, sendThroughBudget, quotas, clock, logger });
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
  app.use(accessLog(logger));
  app.use(helmet());
  app.use(requireHttps({ enabled: config.http.requireHttps, sandbox: config.mode === 'sandbox' }));
  app.use(express.json({ limit: config.http.bodyLimit, strict: true }));
  app.use(
    healthRouter(
      [{ name: 'store', check: async () => void (await sql`select 1`.execute(db)) }],
      () => shuttingDown,
    ),
  );
  const inbound = createInboundRepository(db);
  app.use(
    callbacksRouter(config.callbacks.tokens, {
      receiveDeliveryReports: createDeliveryReportIntake(createDeliveryReportRepository(db), clock),
      receiveInbound: createInboundIntake(config, inbound, clock),
    }),
  );
  app.use('/v1', authenticate, rateLimit.middleware);
  app.use(messagesRouter({ sendMessages, repository }));
  app.use(inboundRouter(inbound));
  app.use(usageRouter(config, quotas));
  app.use(notFound());
  app.use(errorHandler(logger));

  return {
    app,
    beginShutdown() {
      shuttingDown = true;
    },
    async close() {
      shuttingDown = true;
      budget.stop();
      upstream.close();
      rateLimit.close();
    },
  };
}

/**
 * One node: an in-process sliding log. Several replicas (redis.url set): one sliding log in Redis,
 * falling back to this replica's share of the cap (callsPerSecond / cluster.replicas) while Redis
 * is unreachable, so the account's cap holds either way.
 */
function createSlotSource(config: Config, clock: Clock, logger: Logger): SlotSource {
  const windowMs = 1000 + config.upstream.windowMarginMs;
  if (!config.redis.url) return createLocalSlotSource(config.upstream.callsPerSecond, windowMs, clock);
  const share = Math.max(1, Math.floor(config.upstream.callsPerSecond / config.cluster.replicas));
  return createRedisSlotSource({
    url: config.redis.url,
    keyPrefix: `${config.redis.keyPrefix}:upstream`,
    limit: config.upstream.callsPerSecond,
    windowMs,
    fallback: createLocalSlotSource(share, windowMs, clock),
    logger,
  });
}
