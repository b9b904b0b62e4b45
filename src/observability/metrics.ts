import type { Request, RequestHandler } from 'express';
import { ApiError, textResponse, type RouteDefinition } from '../http';
import { equalsConstantTime } from '../security';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface MetricSources {
  queueDepth: () => number;
  sseConnections: () => number;
  /** Segments used and the limit, per tenant and quota. */
  quotaUsage: () => Promise<{ tenant: string; quota: string; used: number; limit: number }[]>;
  /** The provider balance this replica last read (null until it has). */
  balance?: () => { sms: number | null; mms: number | null };
}

export interface Metrics {
  registry: Registry;
  /** Counts and times every HTTP request by route pattern (never the raw path: it may hold a token). */
  httpMetrics: RequestHandler;
  // Property (not method) syntax: these are handed around as callbacks and never use `this`.
  providerCall: (endpoint: string, outcome: string, seconds: number) => void;
  budgetAdmitted: (tenant: string, waitedMs: number) => void;
  webhookAttempt: (outcome: 'delivered' | 'failed' | 'gone' | 'dead') => void;
  watch(sources: MetricSources): void;
}

/** Prometheus metrics (prom-client): one registry per gateway, so tests can run several side by side. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'smsgate_' });
  let sources: MetricSources | undefined;

  const requests = new Counter({
    name: 'smsgate_http_requests_total',
    help: 'HTTP requests by method, route pattern and status',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const requestSeconds = new Histogram({
    name: 'smsgate_http_request_duration_seconds',
    help: 'HTTP request duration by route pattern',
    labelNames: ['method', 'route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const providerCalls = new Counter({
    name: 'smsgate_provider_calls_total',
    help: 'Calls to the provider by endpoint and outcome (ok, http_<status>, timeout, unavailable)',
    labelNames: ['endpoint', 'outcome'],
    registers: [registry],
  });
  const providerSeconds = new Histogram({
    name: 'smsgate_provider_call_duration_seconds',
    help: 'Provider call latency by endpoint',
    labelNames: ['endpoint'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    registers: [registry],
  });
  const budgetWait = new Histogram({
    name: 'smsgate_upstream_budget_wait_seconds',
    help: 'Time a provider call waited for a slot in the upstream budget, by tenant',
    labelNames: ['tenant'],
    buckets: [0, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
    registers: [registry],
  });
  const webhookAttempts = new Counter({
    name: 'smsgate_webhook_attempts_total',
    help: 'Webhook delivery attempts by outcome (delivered, failed, gone, dead)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  new Gauge({
    name: 'smsgate_upstream_budget_queue_depth',
    help: 'Provider calls waiting for a slot',
    registers: [registry],
    collect() {
      this.set(sources?.queueDepth() ?? 0);
    },
  });
  new Gauge({
    name: 'smsgate_sse_connections',
    help: 'Open Server-Sent Events streams',
    registers: [registry],
    collect() {
      this.set(sources?.sseConnections() ?? 0);
    },
  });
  for (const [name, help, pick] of [
    ['smsgate_quota_used_segments', 'Segments used in the current period, by tenant and quota', 'used'],
    ['smsgate_quota_limit_segments', 'Segment quota per period, by tenant and quota', 'limit'],
  ] as const) {
    new Gauge({
      name,
      help,
      labelNames: ['tenant', 'quota'],
      registers: [registry],
      async collect() {
        for (const row of (await sources?.quotaUsage()) ?? []) {
          this.set({ tenant: row.tenant, quota: row.quota }, row[pick]);
        }
      },
    });
  }

  new Gauge({
    name: 'smsgate_provider_balance_credits',
    help: 'Provider account balance in credits, as last read (account poll or low-credit alert), by kind',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      const balance = sources?.balance?.();
      if (balance?.sms !== null && balance?.sms !== undefined) this.set({ kind: 'sms' }, balance.sms);
      if (balance?.mms !== null && balance?.mms !== undefined) this.set({ kind: 'mms' }, balance.mms);
    },
  });

  const routeOf = (req: Request): string => {
    const route = (req.route as { path?: unknown } | undefined)?.path;
    return typeof route === 'string' ? `${req.baseUrl}${route}` : 'unmatched';
  };

  return {
    registry,
    httpMetrics: (req, res, next) => {
      const end = requestSeconds.startTimer();
      res.on('finish', () => {
        const route = routeOf(req);
        requests.inc({ method: req.method, route, status: String(res.statusCode) });
        end({ method: req.method, route });
      });
      next();
    },
    providerCall(endpoint, outcome, seconds) {
      providerCalls.inc({ endpoint, outcome });
      providerSeconds.observe({ endpoint }, seconds);
    },
    budgetAdmitted(tenant, waitedMs) {
      budgetWait.observe({ tenant }, waitedMs / 1000);
    },
    webhookAttempt(outcome) {
      webhookAttempts.inc({ outcome });
    },
    watch(next) {
      sources = next;
    },
  };
}

/** GET /metrics in the Prometheus text format; behind a bearer token when `metrics.token` is set. */
export function metricsRoutes(metrics: Metrics, token: string | undefined): RouteDefinition[] {
  const expected = token ? `Bearer ${token}` : undefined;
  return [
    {
      method: 'get',
      path: '/metrics',
      // Public to the route table: the optional metrics token is not a tenant's bearer token.
      access: 'public',
      summary: 'Prometheus metrics (optionally behind metrics.token)',
      tags: ['operations'],
      responses: { 200: textResponse('text/plain', 'Metrics') },
      handler: async (req, res) => {
        if (expected !== undefined && !equalsConstantTime(expected, req.get('authorization') ?? '')) {
          throw new ApiError('AUTH_FAILED', 'Authorization: GET /metrics needs the metrics token');
        }
        res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
      },
    },
  ];
}
