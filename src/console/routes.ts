import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { RequestHandler, Response } from 'express';
import { z } from 'zod';
import { mintToken } from '../auth';
import type { Clock } from '../clock';
import type { Config } from '../config';
import type { EventHub } from '../delivery';
import {
  ApiError,
  jsonResponse,
  pageBlock,
  pageQuery,
  parsePage,
  requireJson,
  sendSuccess,
  successSchema,
  textResponse,
  type RouteDefinition,
} from '../http';
import { isLoopback } from '../security';
import {
  MESSAGE_STATUSES,
  type ConsoleMessage,
  type ConsoleRepository,
  type InboundRecord,
  type InboundRepository,
  type RollupRepository,
  type StoredEvent,
} from '../store';
import { maskJson, maskNumber, urlHost } from './mask';
import { ACCOUNT, type ConsoleRecorder } from './recorder';

/** Where the built pages are: dist/console, from src/console (tests) and dist/console (the build). */
export const CONSOLE_ASSETS = resolve(__dirname, '../../dist/console');

/**
 * The console's pages allow nothing inline and nothing from elsewhere: scripts, styles and data
 * come from this origin only.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export interface ConsoleDeps {
  config: Config;
  clock: Clock;
  recorder: ConsoleRecorder;
  rollups: RollupRepository;
  reads: ConsoleRepository;
  inbound: InboundRepository;
  hub: EventHub;
  quotaStatus: (tenantId: string) => Promise<unknown[]>;
  rateLimitStatus: (
    tenantId: string,
  ) => Promise<{ requests: number; windowSec: number; used: number | null } | undefined>;
  queueDepth: () => number;
  /** Publishes stored events live and wakes the webhook worker (an assigned reply is an event). */
  announce: (events: StoredEvent[]) => void;
}

export interface ConsoleRoutes {
  /** The pages and, in sandbox mode, the sign-in button's token. */
  publicRoutes: RouteDefinition[];
  /** The data routes, all `admin`. */
  adminRoutes: RouteDefinition[];
  /** Ends every open console event stream (shutdown). */
  closeAll(): void;
}

const maskedMessageSchema = z
  .object({
    id: z.string(),
    tenantId: z.string(),
    batchId: z.string(),
    to: z.string().meta({ description: 'The number with all but its last 3 digits masked' }),
    from: z.string(),
    segments: z.number().int(),
    status: z.string(),
    reference: z.string().nullable(),
    providerMessageId: z.string().nullable(),
    error: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'ConsoleMessage' });

const historySchema = z.array(
  z.object({ status: z.string(), detail: z.string().nullable(), at: z.string() }),
);

const liveSecondSchema = z.object({
  at: z.number().int(),
  providerCalls: z.number().int(),
  provider429: z.number().int(),
  maxWaitMs: z.number(),
  queueDepth: z.number().int(),
});

const accountSchema = z
  .object({
    callsPerSecond: z.number().int().meta({ description: "The account's cap on provider calls per second" }),
    queueDepth: z.number().int(),
    live: z
      .array(liveSecondSchema)
      .meta({ description: "The last 5 minutes, per second (this replica's calls)" }),
    last5Min: z.object({
      providerCalls: z.number().int(),
      provider429: z.number().int(),
      maxWaitMs: z.number(),
    }),
  })
  .meta({ id: 'ConsoleAccount' });

const tenantSummarySchema = z
  .object({
    tenant: z.string(),
    quotas: z.array(
      z.object({
        name: z.string(),
        limit: z.number(),
        used: z.number(),
        remaining: z.number(),
        resetsAt: z.string(),
      }),
    ),
    rateLimit: z.object({
      requests: z.number().int(),
      windowSec: z.number().int(),
      used: z.number().int().nullable(),
    }),
    statusToday: z.record(z.string(), z.number().int()),
    webhook: z.object({
      configured: z.boolean(),
      host: z.string().nullable().meta({ description: 'Scheme and host only' }),
      disabledAt: z.string().nullable(),
      lastSuccessAt: z.string().nullable(),
      retrying: z.number().int(),
      deadLetters: z.number().int(),
    }),
  })
  .meta({ id: 'ConsoleTenant' });

const seriesSchema = z
  .object({
    tenant: z.string(),
    range: z.enum(['24h', '30d']),
    resolution: z.enum(['tenMinutes', 'hour']),
    from: z.string(),
    points: z.array(z.object({ bucket: z.string(), metric: z.string(), value: z.number() })),
  })
  .meta({ id: 'ConsoleSeries' });

const deadLetterDetailSchema = z
  .object({
    id: z.number().int(),
    eventId: z.string(),
    tenantId: z.string(),
    type: z.string(),
    state: z.string(),
    attempts: z.number().int(),
    lastStatus: z.number().int().nullable(),
    lastError: z.string().nullable(),
    payload: z.string().meta({ description: 'The event body, phone numbers masked' }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'ConsoleDeadLetter' });

const unroutedSchema = z
  .object({
    id: z.string(),
    from: z.string(),
    text: z.string(),
    routedBy: z.string(),
    receivedAt: z.string(),
  })
  .meta({ id: 'ConsoleUnrouted' });

const webhookStateSchema = z
  .object({
    tenant: z.string(),
    host: z.string(),
    disabledAt: z.string().nullable(),
    reason: z.string().nullable(),
  })
  .meta({ id: 'ConsoleWebhook' });

const searchQuery = pageQuery.extend({
  tenant: z.string().optional(),
  status: z.enum(MESSAGE_STATUSES as [string, ...string[]]).optional(),
  from: z.iso.datetime({ offset: true }).optional().meta({ description: 'Created at or after (ISO 8601)' }),
  to: z.iso.datetime({ offset: true }).optional().meta({ description: 'Created before (ISO 8601)' }),
  last: z
    .string()
    .regex(/^\d{2,8}$/, 'expected the last 2 to 8 digits of the number')
    .optional(),
  reference: z.string().max(128).optional(),
});

function toMasked(message: ConsoleMessage) {
  return {
    id: message.id,
    tenantId: message.tenantId,
    batchId: message.batchId,
    to: maskNumber(message.recipient),
    from: /^\+?\d+$/.test(message.sender) ? maskNumber(message.sender) : message.sender,
    segments: message.segments,
    status: message.status,
    reference: message.reference,
    providerMessageId: message.providerMessageId,
    error: message.error,
    createdAt: message.createdAt,
    updatedAt: message.updatedAt,
  };
}

function toUnrouted(record: InboundRecord) {
  return {
    id: record.id,
    from: maskNumber(record.sender),
    text: JSON.parse(maskJson(JSON.stringify(record.text))) as string,
    routedBy: record.routedBy,
    receivedAt: record.receivedAt,
  };
}

const DAY_MS = 86_400_000;

/**
 * The operator console: its pages (/console, strict CSP, files built by scripts/build-console.mjs)
 * and its data routes under /v1/admin/console, every one `admin`. Phone numbers are masked here,
 * before they leave the gateway; no secret is in any answer (webhook URLs show their host only).
 */
export function consoleRoutes(deps: ConsoleDeps): ConsoleRoutes {
  const { config, clock, recorder, rollups, reads, hub } = deps;
  const open = new Set<Response>();
  const tenantParam = (value: unknown): string => {
    if (typeof value !== 'string' || !Object.hasOwn(config.tenants, value)) {
      throw new ApiError('NOT_FOUND', `tenant: no tenant '${String(value).slice(0, 64)}'`);
    }
    return value;
  };
  const iso = (ms: number) => new Date(ms).toISOString();

  const strictPage: RequestHandler = (_req, res, next) => {
    res.setHeader('Content-Security-Policy', CONSOLE_CSP);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Referrer-Policy', 'no-referrer');
    next();
  };
  const asset = (path: string, file: string, summary: string, mediaType: string): RouteDefinition => ({
    method: 'get',
    path,
    access: 'public',
    summary,
    tags: ['console'],
    responses: { 200: textResponse(mediaType, summary) },
    middleware: [strictPage],
    handler: (_req, res) => {
      const full = resolve(CONSOLE_ASSETS, file);
      if (!existsSync(full)) {
        throw new ApiError('NOT_FOUND', 'console: not built (run npm run build)');
      }
      res.type(mediaType).sendFile(full);
    },
  });

  const publicRoutes: RouteDefinition[] = [
    asset('/console', 'index.html', 'The operator console (sign in with an admin token)', 'text/html'),
    asset('/console/app.js', 'app.js', "The console's script", 'text/javascript'),
    asset('/console/app.css', 'app.css', "The console's styles", 'text/css'),
  ];
  if (config.mode === 'sandbox') {
    const adminTenant = Object.entries(config.tenants).find(([, t]) => t.scopes.includes('admin'))?.[0];
    publicRoutes.push({
      method: 'post',
      path: '/console/sandbox-token',
      access: 'public',
      summary: 'A 15-minute admin token for the console (sandbox mode only, loopback callers only)',
      tags: ['console', 'sandbox'],
      responses: {
        201: jsonResponse(
          successSchema(z.object({ token: z.string(), tenant: z.string(), expiresAt: z.string() })),
          'Created',
        ),
      },
      handler: (req, res) => {
        if (!isLoopback(req.socket.remoteAddress ?? '')) {
          throw new ApiError('FORBIDDEN', 'console: a sandbox token is given to loopback callers only');
        }
        if (!adminTenant) throw new ApiError('NOT_FOUND', 'console: no tenant has the admin scope');
        const ttlSec = Math.min(900, config.auth.maxTokenTtlSec);
        const token = mintToken(config, {
          tenantId: adminTenant,
          scopes: ['admin'],
          ttlSec,
          subject: 'console',
        });
        sendSuccess(res, 201, { token, tenant: adminTenant, expiresAt: iso(clock.now() + ttlSec * 1000) });
      },
    });
  }

  const adminRoutes: RouteDefinition[] = [
    {
      method: 'get',
      path: '/v1/admin/console/account',
      access: 'admin',
      summary: 'Provider calls per second against the cap (last 5 min), queue depth and wait, 429s (admin)',
      tags: ['admin', 'console'],
      responses: { 200: jsonResponse(successSchema(accountSchema)) },
      handler: (_req, res) => {
        const live = recorder.live();
        sendSuccess(res, 200, {
          callsPerSecond: config.upstream.callsPerSecond,
          queueDepth: deps.queueDepth(),
          live,
          last5Min: {
            providerCalls: live.reduce((n, s) => n + s.providerCalls, 0),
            provider429: live.reduce((n, s) => n + s.provider429, 0),
            maxWaitMs: live.reduce((n, s) => Math.max(n, s.maxWaitMs), 0),
          },
        });
      },
    },
    {
      method: 'get',
      path: '/v1/admin/console/tenants',
      access: 'admin',
      summary: "Every tenant's quotas, request rate, messages by status today and webhook health (admin)",
      tags: ['admin', 'console'],
      responses: { 200: jsonResponse(successSchema(z.array(tenantSummarySchema))) },
      handler: async (_req, res) => {
        const since = iso(clock.now() - DAY_MS);
        const disabled = await reads.disabledEndpoints();
        const summaries = await Promise.all(
          Object.entries(config.tenants).map(async ([tenant, settings]) => {
            const [quotas, rate, statusToday, health] = await Promise.all([
              deps.quotaStatus(tenant),
              deps.rateLimitStatus(tenant),
              reads.statusCounts(tenant, since),
              reads.webhookHealth(tenant),
            ]);
            const url = settings.webhook?.url;
            return {
              tenant,
              quotas,
              rateLimit: {
                requests: rate?.requests ?? settings.rateLimit.requests,
                windowSec: rate?.windowSec ?? settings.rateLimit.windowSec,
                used: rate?.used ?? null,
              },
              statusToday,
              webhook: {
                configured: url !== undefined,
                host: url ? urlHost(url) : null,
                disabledAt: disabled.find((d) => d.tenantId === tenant && d.url === url)?.disabledAt ?? null,
                ...health,
              },
            };
          }),
        );
        sendSuccess(res, 200, summaries);
      },
    },
    {
      method: 'get',
      path: '/v1/admin/console/tenants/:tenant/series',
      access: 'admin',
      summary: "A tenant's counters per 10 minutes (24h) or per hour (30d), from the rollups (admin)",
      tags: ['admin', 'console'],
      request: {
        params: z.object({ tenant: z.string() }),
        query: z.object({ range: z.enum(['24h', '30d']).optional() }),
      },
      responses: { 200: jsonResponse(successSchema(seriesSchema)) },
      handler: async (req, res) => {
        const tenant = req.params.tenant === ACCOUNT ? ACCOUNT : tenantParam(req.params.tenant);
        const range = req.query.range === '30d' ? '30d' : '24h';
        await recorder.flush();
        const from = clock.now() - (range === '30d' ? 30 : 1) * DAY_MS;
        const resolution = range === '30d' ? 'hour' : 'tenMinutes';
        const fromBucket = iso(from).slice(0, range === '30d' ? 13 : 15);
        const points = await rollups.series(tenant, fromBucket, resolution);
        sendSuccess(res, 200, { tenant, range, resolution, from: iso(from), points });
      },
    },
    {
      method: 'get',
      path: '/v1/admin/console/messages',
      access: 'admin',
      summary: 'Search messages by tenant, status, date, last digits, reference; numbers masked (admin)',
      tags: ['admin', 'console'],
      request: { query: searchQuery },
      responses: { 200: jsonResponse(successSchema(z.array(maskedMessageSchema), true)) },
      handler: async (req, res) => {
        const page = parsePage(req.query.page);
        const q = req.query as Record<string, string | undefined>;
        const { items, total } = await reads.searchMessages(
          {
            tenantId: q.tenant === undefined ? undefined : tenantParam(q.tenant),
            status: q.status,
            from: q.from === undefined ? undefined : iso(Date.parse(q.from)),
            to: q.to === undefined ? undefined : iso(Date.parse(q.to)),
            lastDigits: q.last,
            reference: q.reference,
          },
          page,
        );
        sendSuccess(res, 200, items.map(toMasked), pageBlock(page, total));
      },
    },
    {
      method: 'get',
      path: '/v1/admin/console/messages/:id',
      access: 'admin',
      summary: 'One message and its history; number masked (admin)',
      tags: ['admin', 'console'],
      request: { params: z.object({ id: z.string().max(64) }) },
      responses: {
        200: jsonResponse(successSchema(maskedMessageSchema.extend({ history: historySchema }))),
      },
      handler: async (req, res) => {
        const id = String(req.params.id);
        const message = await reads.findMessage(id);
        if (!message) throw new ApiError('NOT_FOUND', `id: no message '${id.slice(0, 64)}'`);
        sendSuccess(res, 200, {
          ...toMasked(message),
          history: message.history.map((h) => ({
            ...h,
            detail: h.detail === null ? null : maskJson(JSON.stringify(h.detail)).slice(1, -1),
          })),
        });
      },
    },
    {
      method: 'get',
      path: '/v1/admin/console/dead-letters/:id',
      access: 'admin',
      summary: 'One webhook delivery and the event it carries, numbers masked (admin)',
      tags: ['admin', 'console'],
      request: {
        params: z.object({ id: z.string().regex(/^\d{1,15}$/, 'expected a dead letter id') }),
      },
      responses: { 200: jsonResponse(successSchema(deadLetterDetailSchema)) },
      handler: async (req, res) => {
        const id = String(req.params.id);
        const detail = await reads.deadLetter(Number(id));
        if (!detail) throw new ApiError('NOT_FOUND', `id: no webhook delivery ${id}`);
        sendSuccess(res, 200, { ...detail, payload: maskJson(detail.payload) });
      },
    },
    {
      method: 'get',
      path: '/v1/admin/console/webhooks',
      access: 'admin',
      summary: "Each tenant's webhook: its host and whether it is disabled (admin)",
      tags: ['admin', 'console'],
      responses: { 200: jsonResponse(successSchema(z.array(webhookStateSchema))) },
      handler: async (_req, res) => {
        const disabled = await reads.disabledEndpoints();
        const states = Object.entries(config.tenants).flatMap(([tenant, settings]) => {
          const url = settings.webhook?.url;
          if (!url) return [];
          const off = disabled.find((d) => d.tenantId === tenant && d.url === url);
          return [
            { tenant, host: urlHost(url), disabledAt: off?.disabledAt ?? null, reason: off?.reason ?? null },
          ];
        });
        sendSuccess(res, 200, states);
      },
    },
    {
      method: 'get',
      path: '/v1/admin/console/inbound/unrouted',
      access: 'admin',
      summary: 'Inbound messages no tenant has, sender and text masked (admin)',
      tags: ['admin', 'console'],
      request: { query: pageQuery },
      responses: { 200: jsonResponse(successSchema(z.array(unroutedSchema), true)) },
      handler: async (req, res) => {
        const page = parsePage(req.query.page);
        const { items, total } = await deps.inbound.listUnrouted(page);
        sendSuccess(res, 200, items.map(toUnrouted), pageBlock(page, total));
      },
    },
    {
      method: 'post',
      path: '/v1/admin/console/inbound/:id/assign',
      access: 'admin',
      summary: 'Route an unrouted inbound message to a tenant; answered masked (admin)',
      tags: ['admin', 'console'],
      request: {
        params: z.object({ id: z.string().max(64) }),
        body: { schema: z.object({ tenant: z.string() }), contentTypes: ['application/json'] },
      },
      responses: { 200: jsonResponse(successSchema(unroutedSchema.extend({ tenantId: z.string() }))) },
      middleware: [requireJson],
      handler: async (req, res) => {
        const id = String(req.params.id);
        const tenant = tenantParam((req.body as { tenant: string }).tenant);
        const result = await deps.inbound.assign(id, tenant, iso(clock.now()));
        if (result.outcome !== 'assigned') {
          throw result.outcome === 'not_found'
            ? new ApiError('NOT_FOUND', `id: no inbound message '${id.slice(0, 64)}'`)
            : new ApiError('CONFLICT', `id: inbound message '${id.slice(0, 64)}' is already routed`);
        }
        deps.announce(result.events);
        sendSuccess(res, 200, { ...toUnrouted(result.record), tenantId: tenant });
      },
    },
    {
      method: 'get',
      path: '/v1/admin/console/events',
      access: 'admin',
      summary: "Every tenant's events live, as Server-Sent Events, numbers masked (admin)",
      tags: ['admin', 'console'],
      responses: { 200: textResponse('text/event-stream', 'The event stream') },
      handler: (_req, res) => {
        res.writeHead(200, {
          'Content-Type': 'text/event-stream; charset=utf-8',
          'Cache-Control': 'no-cache, no-transform',
          Connection: 'keep-alive',
          'X-Accel-Buffering': 'no',
        });
        open.add(res);
        res.write('retry: 3000\n\n');
        const send = (event: StoredEvent) => {
          // A console that stops reading loses events rather than holding memory: it is a live view.
          if (res.writableNeedDrain) return;
          const data = JSON.stringify({
            tenant: event.tenantId,
            body: JSON.parse(maskJson(event.payload)) as unknown,
          });
          res.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${data}\n\n`);
        };
        const unsubscribes = Object.keys(config.tenants).map((tenant) => hub.subscribe(tenant, send));
        const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), config.events.heartbeatMs);
        res.on('close', () => {
          clearInterval(heartbeat);
          for (const unsubscribe of unsubscribes) unsubscribe();
          open.delete(res);
        });
      },
    },
  ];

  return {
    publicRoutes,
    adminRoutes,
    closeAll() {
      for (const res of open) res.end();
      open.clear();
    },
  };
}
