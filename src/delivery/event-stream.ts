import { createHash, randomBytes } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { identityOf, readScopeOf, readsWholeTenant, type Identity } from '../auth';
import type { Clock } from '../clock';
import type { Config } from '../config';
import {
  ApiError,
  jsonResponse,
  sendSuccess,
  successSchema,
  textResponse,
  type RouteDefinition,
} from '../http';
import type { Logger } from '../observability';
import { ADMIN_CHANNEL, type EventRepository, type StoredEvent } from '../store';
import type { EventHub } from './event-hub';

/** `Last-Event-ID`: an id this stream gave (checked before the stream opens). */
const lastEventIdSchema = z.string().regex(/^(\d{1,15})?$/, {
  error: (issue) => `expected an event id from this stream, got '${String(issue.input).slice(0, 20)}'`,
});

const ticketSchema = z
  .object({ ticket: z.string(), expiresAt: z.string(), url: z.string() })
  .meta({ id: 'EventTicket' });

const hashTicket = (ticket: string) => createHash('sha256').update(ticket).digest('hex');

export interface EventStreams {
  /**
   * GET /v1/events: a public route that authenticates its callers itself (a bearer token, or a
   * ticket standing in for it), since it must be reached before the tenant routes' bearer check;
   * it applies the tenant rate limit itself, once the tenant is known either way.
   */
  streamRoutes: RouteDefinition[];
  /** POST /v1/events/tickets: a tenant route, behind bearer authentication. */
  ticketRoutes: RouteDefinition[];
  /** GET /v1/admin/events: the operators' channel, for admin tokens (a tenant route). */
  adminRoutes: RouteDefinition[];
  /** How many streams are open here (a property: the metrics read it as a callback). */
  open: () => number;
  /** Ends every open stream (shutdown); clients reconnect elsewhere with Last-Event-ID. */
  closeAll(): void;
}

/**
 * Server-Sent Events for browsers and apps: the tenant's `message.status` and `message.inbound`
 * events, each with its store id as the SSE `id:`, heartbeats while idle, and Last-Event-ID replay
 * from the store. EventSource cannot send headers, so a single-use ticket (60 s) can stand in for
 * the bearer token. Hand-rolled: the SSE wire format is a few lines, and owning it keeps the
 * subscribe-then-replay ordering (no event lost or doubled between replay and live) in one place.
 *
 * Opening a stream is a request like any other: it counts against the tenant's rate limit, and a
 * tenant holds at most `events.maxStreamsPerTenant` streams on a replica. A client that stops
 * reading is not written to until its socket drains; past `events.maxBufferedBytes` held back, its
 * stream is closed and it resumes with Last-Event-ID from the store.
 */
export function createEventStreams(options: {
  config: Config;
  events: EventRepository;
  hub: EventHub;
  clock: Clock;
  logger: Logger;
  authenticate: RequestHandler;
  /** The tenant rate limit of every /v1 route (reads the tenant from `req.user`). */
  rateLimit: RequestHandler;
}): EventStreams {
  const { config, events, hub, clock, logger } = options;
  /** Each open stream and its tenant. */
  const open = new Map<Response, string>();
  const openFor = (tenantId: string) => {
    let count = 0;
    for (const owner of open.values()) if (owner === tenantId) count += 1;
    return count;
  };

  const viaTicketOrBearer: RequestHandler = async (req, _res, next) => {
    const ticket = req.query.ticket;
    if (ticket === undefined) {
      options.authenticate(req, _res, next);
      return;
    }
    if (typeof ticket !== 'string' || ticket.length === 0 || ticket.length > 100) {
      throw new ApiError('AUTH_FAILED', 'ticket: malformed');
    }
    if (req.headers.authorization) {
      throw new ApiError(
        'FIELD_INVALID',
        'ticket: send either a ticket or an Authorization header, not both',
      );
    }
    const owner = await events.redeemTicket(hashTicket(ticket), new Date(clock.now()).toISOString());
    if (!owner || !config.tenants[owner.tenantId]) {
      throw new ApiError('AUTH_FAILED', 'ticket: unknown, expired or already used');
    }
    // The ticket stands in for the token that asked for it: the same tenant, subject and reach.
    const identity: Identity = {
      tenantId: owner.tenantId,
      scopes: owner.readAll ? ['sms:read', 'sms:read:all'] : ['sms:read'],
      subject: owner.subject ?? undefined,
      endUser: owner.readAll ? undefined : (owner.subject ?? undefined),
    };
    req.user = identity;
    next();
  };

  const withinStreamCap: RequestHandler = (req, _res, next) => {
    const max = config.events.maxStreamsPerTenant;
    if (openFor(identityOf(req).tenantId) >= max) {
      // A stream stays open for minutes or hours: retrying within a second would only be refused again.
      throw new ApiError(
        'OVER_LIMIT',
        `events: this tenant already has ${max} open streams on this replica (events.maxStreamsPerTenant); close one first`,
        { 'Retry-After': '30' },
      );
    }
    next();
  };

  /**
   * Streams one channel's events: a tenant's (all of them, or with `subject` only those about that
   * end user's messages), or the operators' (ADMIN_CHANNEL).
   */
  const streamTo =
    (scopeOf: (req: Request) => { tenantId: string; subject?: string | null }): RequestHandler =>
    async (req, res) => {
      const { tenantId, subject } = scopeOf(req);
      // sms:read: only events about the caller's own messages (and replies to them).
      const visible = (event: StoredEvent) => subject === undefined || (event.subject ?? null) === subject;
      const lastEventId = parseLastEventId(req.get('last-event-id') ?? queryText(req.query.lastEventId));
      res.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-cache, no-transform',
        Connection: 'keep-alive',
        'X-Accel-Buffering': 'no',
      });
      open.set(res, tenantId);
      const out = createFrameWriter(res, config.events.maxBufferedBytes, () => {
        logger.info(
          { event: 'events.stream_fell_behind', tenantId },
          'SSE: closed a stream whose client stopped reading; it resumes with Last-Event-ID',
        );
        // destroy, not end: end would wait behind the very bytes the client is not reading.
        res.destroy();
      });
      out.send('retry: 3000\n\n');

      // Subscribe first and hold live events until the replay is written, so none falls in between;
      // an event both replayed and published late is written once (the replayed ids are remembered).
      const replayed = new Set<number>();
      let replaying = true;
      const held: StoredEvent[] = [];
      let heldBytes = 0;
      const isNew = (event: StoredEvent) => !replayed.has(event.id) && event.id > (lastEventId ?? 0);
      const unsubscribe = hub.subscribe(tenantId, (event) => {
        if (!visible(event)) return;
        if (!replaying) {
          if (isNew(event)) out.send(frameOf(event));
          return;
        }
        held.push(event);
        heldBytes += event.payload.length;
        if (heldBytes > config.events.maxBufferedBytes) out.overflow();
      });
      // A heartbeat only matters to an idle connection; one that is backed up needs no more bytes.
      const heartbeat = setInterval(() => {
        if (!out.blocked()) out.send(': keep-alive\n\n');
      }, config.events.heartbeatMs);
      res.on('close', () => {
        clearInterval(heartbeat);
        unsubscribe();
        open.delete(res);
      });
      if (lastEventId !== undefined) {
        const missed = await events.listSince(tenantId, lastEventId, config.events.replayLimit, subject);
        for (const event of missed) {
          if (res.destroyed) return;
          // The replay is written at the client's pace: each write waits for the socket to drain.
          while (out.blocked() && !res.destroyed) await out.drained();
          out.send(frameOf(event));
          replayed.add(event.id);
        }
      }
      replaying = false;
      for (const event of held) if (isNew(event)) out.send(frameOf(event));
      held.length = 0;
    };

  const streamRoutes: RouteDefinition[] = [
    {
      method: 'get',
      path: '/v1/events',
      access: 'sms:read',
      authenticate: { handler: viaTicketOrBearer, security: [{ bearer: [] }, { ticket: [] }] },
      summary: 'Server-Sent Events: message.status and message.inbound (bearer or ?ticket=)',
      tags: ['events'],
      request: {
        query: z.object({
          ticket: z.string().optional(),
          // EventSource sends Last-Event-ID only on its own reconnections, which a single-use
          // ticket cannot serve; a client reconnecting with a new ticket names the id here.
          lastEventId: lastEventIdSchema
            .optional()
            .meta({ description: 'Resume after this event id (when Last-Event-ID cannot be sent)' }),
        }),
        headers: z.object({ 'Last-Event-ID': lastEventIdSchema.optional() }),
      },
      responses: { 200: textResponse('text/event-stream', 'The event stream') },
      // Counted like any /v1 request once the tenant is known, then at most N open per tenant.
      middleware: [options.rateLimit, withinStreamCap],
      handler: streamTo((req) => readScopeOf(identityOf(req))),
    },
  ];

  const ticketRoutes: RouteDefinition[] = [
    {
      method: 'post',
      path: '/v1/events/tickets',
      access: 'sms:read',
      summary: 'A single-use 60 s ticket for EventSource',
      tags: ['events'],
      responses: { 201: jsonResponse(successSchema(ticketSchema), 'Created') },
      handler: async (req, res) => {
        const ticket = randomBytes(32).toString('base64url');
        const now = clock.now();
        const expiresAt = new Date(now + config.events.ticketTtlSec * 1000).toISOString();
        const identity = identityOf(req);
        await events.createTicket(
          hashTicket(ticket),
          identity.tenantId,
          expiresAt,
          new Date(now).toISOString(),
          {
            subject: identity.subject ?? null,
            readAll: readsWholeTenant(identity),
          },
        );
        sendSuccess(res, 201, { ticket, expiresAt, url: `/v1/events?ticket=${ticket}` });
      },
    },
  ];

  const adminRoutes: RouteDefinition[] = [
    {
      method: 'get',
      path: '/v1/admin/events',
      access: 'admin',
      summary: 'Server-Sent Events for operators: fraud.suspected (admin)',
      tags: ['admin', 'events'],
      request: { headers: z.object({ 'Last-Event-ID': lastEventIdSchema.optional() }) },
      responses: { 200: textResponse('text/event-stream', 'The event stream') },
      middleware: [withinStreamCap],
      handler: streamTo(() => ({ tenantId: ADMIN_CHANNEL })),
    },
  ];

  return {
    streamRoutes,
    ticketRoutes,
    adminRoutes,
    open: () => open.size,
    closeAll() {
      for (const res of open.keys()) res.end();
      open.clear();
    },
  };
}

const frameOf = (event: StoredEvent) => `id: ${event.id}\nevent: ${event.type}\ndata: ${event.payload}\n\n`;

interface FrameWriter {
  /** Writes now, or queues while the socket pushes back; past the bound, calls the overflow handler. */
  send(frame: string): void;
  /** The socket pushed back and has not drained yet. */
  blocked(): boolean;
  /** Resolves once the socket drained (or the stream closed). */
  drained(): Promise<void>;
  overflow(): void;
}

/**
 * Honours backpressure on one stream: once `res.write` returns false nothing more is written until
 * 'drain', frames wait in a queue, and a queue over `maxBytes` ends the stream through `onOverflow`
 * (the client catches up by replay), so a stalled client costs a bounded amount of memory.
 */
function createFrameWriter(res: Response, maxBytes: number, onOverflow: () => void): FrameWriter {
  const queue: string[] = [];
  let queuedBytes = 0;
  let blocked = false;
  let overflowed = false;
  const overflow = () => {
    if (overflowed) return;
    overflowed = true;
    queue.length = 0;
    queuedBytes = 0;
    onOverflow();
  };
  res.on('drain', () => {
    blocked = false;
    while (!blocked && queue.length > 0) {
      const frame = queue.shift() as string;
      queuedBytes -= Buffer.byteLength(frame);
      blocked = !res.write(frame);
    }
  });
  return {
    send(frame) {
      if (overflowed || res.destroyed || res.writableEnded) return;
      if (!blocked) {
        blocked = !res.write(frame);
        return;
      }
      queue.push(frame);
      queuedBytes += Buffer.byteLength(frame);
      if (queuedBytes > maxBytes) overflow();
    },
    blocked: () => blocked,
    drained: () =>
      new Promise<void>((resolve) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      }),
    overflow,
  };
}

const queryText = (value: unknown) => (typeof value === 'string' ? value : undefined);

function parseLastEventId(value: string | undefined): number | undefined {
  return value === undefined || value === '' ? undefined : Number(value);
}
