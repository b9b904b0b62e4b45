import { createHash, randomBytes } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import { z } from 'zod';
import { identityOf, type Identity } from '../auth';
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
import type { EventRepository, StoredEvent } from '../store';
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
   * ticket standing in for it), since it must be reached before the tenant routes' bearer check.
   */
  streamRoutes: RouteDefinition[];
  /** POST /v1/events/tickets: a tenant route, behind bearer authentication. */
  ticketRoutes: RouteDefinition[];
  open(): number;
  /** Ends every open stream (shutdown); clients reconnect elsewhere with Last-Event-ID. */
  closeAll(): void;
}

/**
 * Server-Sent Events for browsers and apps: the tenant's `message.status` and `message.inbound`
 * events, each with its store id as the SSE `id:`, heartbeats while idle, and Last-Event-ID replay
 * from the store. EventSource cannot send headers, so a single-use ticket (60 s) can stand in for
 * the bearer token. Hand-rolled: the SSE wire format is a few lines, and owning it keeps the
 * subscribe-then-replay ordering (no event lost or doubled between replay and live) in one place.
 */
export function createEventStreams(options: {
  config: Config;
  events: EventRepository;
  hub: EventHub;
  clock: Clock;
  authenticate: RequestHandler;
}): EventStreams {
  const { config, events, hub, clock } = options;
  const open = new Set<Response>();

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
    const tenantId = await events.redeemTicket(hashTicket(ticket), new Date(clock.now()).toISOString());
    if (!tenantId || !config.tenants[tenantId]) {
      throw new ApiError('AUTH_FAILED', 'ticket: unknown, expired or already used');
    }
    const identity: Identity = { tenantId, scopes: ['sms:read'], subject: undefined };
    req.user = identity;
    next();
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
        query: z.object({ ticket: z.string().optional() }),
        headers: z.object({ 'Last-Event-ID': lastEventIdSchema.optional() }),
      },
      responses: { 200: textResponse('text/event-stream', 'The event stream') },
      handler: async (req, res) => {
        const tenantId = identityOf(req).tenantId;
        const lastEventId = parseLastEventId(req.get('last-event-id'));
        res.writeHead(200, {
          'Content-Type': 'text/event-stream; charset=utf-8',
          'Cache-Control': 'no-cache, no-transform',
          Connection: 'keep-alive',
          'X-Accel-Buffering': 'no',
        });
        res.write('retry: 3000\n\n');
        open.add(res);

        // Subscribe first and hold live events until the replay is written, so none falls in between;
        // an event both replayed and published late is written once (the replayed ids are remembered).
        const replayed = new Set<number>();
        let replaying = true;
        const held: StoredEvent[] = [];
        const write = (event: StoredEvent) => {
          if (replayed.has(event.id) || event.id <= (lastEventId ?? 0)) return;
          res.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${event.payload}\n\n`);
        };
        const unsubscribe = hub.subscribe(tenantId, (event) => (replaying ? held.push(event) : write(event)));
        const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), config.events.heartbeatMs);
        res.on('close', () => {
          clearInterval(heartbeat);
          unsubscribe();
          open.delete(res);
        });
        if (lastEventId !== undefined) {
          for (const event of await events.listSince(tenantId, lastEventId, config.events.replayLimit)) {
            write(event);
            replayed.add(event.id);
          }
        }
        replaying = false;
        held.forEach(write);
      },
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
        await events.createTicket(
          hashTicket(ticket),
          identityOf(req).tenantId,
          expiresAt,
          new Date(now).toISOString(),
        );
        sendSuccess(res, 201, { ticket, expiresAt, url: `/v1/events?ticket=${ticket}` });
      },
    },
  ];

  return {
    streamRoutes,
    ticketRoutes,
    open: () => open.size,
    closeAll() {
      for (const res of open) res.end();
      open.clear();
    },
  };
}

function parseLastEventId(value: string | undefined): number | undefined {
  return value === undefined || value === '' ? undefined : Number(value);
}
