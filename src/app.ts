import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Express, RequestHandler } from 'express';
import { upstreamPassThroughRoutes } from './admin';
import { apiCors, bearerToken, clientCredentialsRoutes, identityOf, requireAccess } from './auth';
import { consoleRoutes } from './console';
import { callbackRoutes, inboundAdminRoutes, inboundRoutes } from './callbacks';
import type { Config } from './config';
import { eventDefinitions, webhookAdminRoutes } from './delivery';
import { demoPageRoutes, formRoutes } from './forms';
import {
  accessLogger,
  createFastRefusals,
  createHttpApp,
  healthRoutes,
  serverObjectsOf,
  type RouteDefinition,
  type ServerObjects,
} from './http';
import { boundInFlight, usageRoutes } from './limits';
import { messageAdminRoutes, messageRoutes } from './messages';
import { metricsRoutes } from './observability';
import { openApiDocument, openApiRoutes, type OpenApiDocument } from './openapi';
import { createOptOutRules, suppressionAdminRoutes } from './optouts';
import { verificationRoutes } from './verify';
import { nextCpuTurn } from './scheduler';
import { createServices, type GatewayRuntime, type Services } from './services';
import { ADMIN_CHANNEL, createStores } from './store';

export interface Gateway extends Pick<
  Services,
  'metrics' | 'webhooks' | 'sends' | 'backstop' | 'events' | 'streams' | 'optOuts' | 'account'
> {
  app: Express;
  /** The HTTP server's request listener: refusals answered before Express (src/http/fast-refusal.ts), then the app. */
  listener: (req: IncomingMessage, res: ServerResponse) => void;
  /** The HTTP server's options that create each request and response with the app's prototypes (src/http/server-objects.ts). */
  serverObjects: ServerObjects;
  /** The OpenAPI document served at /openapi.json: every route registered below, and the events. */
  document: OpenApiDocument;
  /** Starts the background work: the webhook outbox worker, the send worker and the inbound backstop. */
  start(): Promise<void>;
  /** Marks the gateway as draining: readiness fails and queued provider calls are refused. */
  beginShutdown(): void;
  close(): Promise<void>;
}

/** The composition root: stores → services → the two route tables → the HTTP app. */
export function createGateway(config: Config, runtime: GatewayRuntime): Gateway {
  let draining = false;
  const stores = createStores(
    runtime.db,
    (tenant) =>
      tenant === ADMIN_CHANNEL
        ? config.adminEvents.webhook !== undefined
        : config.tenants[tenant]?.webhook !== undefined,
    createOptOutRules(config),
  );
  const s = createServices(config, stores, runtime);
  const operatorConsole = consoleRoutes({
    config,
    clock: runtime.clock,
    recorder: s.recorder,
    rollups: stores.rollups,
    reads: stores.console,
    inbound: stores.inbound,
    hub: s.events,
    quotaStatus: (tenant) => s.quotas.status(tenant),
    rateLimitStatus: s.rateLimit.status,
    queueDepth: () => s.budget.queueLength(),
    announce: s.announce,
  });
  const consoleOn = config.console.enabled;
  // Anyone may call these; each guards itself (a token in the path, origins and CAPTCHA, …).
  const publicRoutes: RouteDefinition[] = [
    ...healthRoutes([{ name: 'store', check: stores.ping }], () => draining),
    ...openApiRoutes(() => document),
    ...metricsRoutes(s.metrics, config.metrics.token),
    ...formRoutes(s.forms),
    ...callbackRoutes(config.callbacks, s.intakes),
    ...s.streams.streamRoutes, // authenticates itself (bearer or ?ticket=), then needs sms:read
    ...clientCredentialsRoutes(config),
    ...(config.mode === 'sandbox' ? demoPageRoutes() : []),
    ...(consoleOn ? operatorConsole.publicRoutes : []),
  ];
  // Behind bearer authentication and the tenant's rate limit; each route names its scope.
  const tenantRoutes: RouteDefinition[] = [
    ...messageRoutes(s.messages),
    ...inboundRoutes(stores.inbound),
    ...s.streams.ticketRoutes,
    ...usageRoutes(config, s.quotas, s.rateLimit.status, s.account.status),
    ...messageAdminRoutes(config, stores.messages),
    ...inboundAdminRoutes(config, stores.inbound, runtime.clock, s.announce),
    ...webhookAdminRoutes(config, stores.outbox, runtime.clock, s.webhooks.notify),
    ...upstreamPassThroughRoutes(s.budget, s.upstream),
    ...(consoleOn ? operatorConsole.adminRoutes : []),
    ...suppressionAdminRoutes(config, stores.suppressions, runtime.clock, s.announce),
    ...verificationRoutes(s.verifier),
    ...s.streams.adminRoutes,
  ];
  const document = openApiDocument([...publicRoutes, ...tenantRoutes], eventDefinitions);
  // Each authenticated request is counted for the console's request-rate chart (also those refused
  // before Express), then rate limited.
  const countRequest = (tenantId: string) => s.recorder.count(tenantId, 'requests');
  const countAndLimit: RequestHandler = (req, res, next) => {
    countRequest(identityOf(req).tenantId);
    s.rateLimit.middleware(req, res, next);
  };
  const inFlight = boundInFlight(config.http.maxInFlightPerTenant);
  const guards = {
    authenticate: s.authenticate,
    inFlight,
    rateLimit: countAndLimit,
    requireAccess,
  };
  const app = createHttpApp(
    config,
    {
      logger: runtime.logger,
      httpMetrics: s.metrics.httpMetrics,
      isDraining: () => draining,
      guards,
      cors: apiCors(config.tenants),
      takeTurn: nextCpuTurn,
    },
    { publicRoutes, tenantRoutes },
  );
  // A flooding tenant's 429s, answered from the raw request listener once the answer is certain.
  const fast = createFastRefusals({
    cachedIdentity: s.authenticate.cachedIdentity,
    bearerToken,
    anySpent: s.rateLimit.anySpent,
    spentWindow: s.rateLimit.spentWindow,
    inFlightFull: inFlight.full,
    httpMetrics: s.metrics.httpMetrics,
    accessLog: accessLogger(runtime.logger, { sampleEvery: config.http.accessLogSampleEvery }),
    countRequest,
    isDraining: () => draining,
    publicPaths: publicRoutes.map((route) => route.path),
    http: config.http,
    sandbox: config.mode === 'sandbox',
  });
  s.rateLimit.onRefusal(fast.learn);
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    if (!fast.answer(req, res)) app(req, res);
  };
  const { metrics, webhooks, sends, backstop, events, streams, optOuts, account } = s;
  return {
    ...{ app, listener, document, metrics, webhooks, sends, backstop, events, streams, optOuts, account },
    serverObjects: serverObjectsOf(app),
    async start() {
      for (const resource of s.resources) await resource.start?.();
    },
    beginShutdown() {
      draining = true;
      streams.closeAll();
      operatorConsole.closeAll();
    },
    async close() {
      draining = true;
      for (const resource of [...s.resources].reverse()) await resource.stop();
    },
  };
}
