import { createHash, randomBytes } from 'node:crypto';
import { Router, type RequestHandler, type Response } from 'express';
import { identityOf, requireScope, type Identity } from '../auth';
import type { Clock } from '../clock';
import type { Config } from '../config';
import { ApiError, sendSuccess } from '../http';
import type { EventRepository, StoredEvent } from '../store';
import type { EventHub } from './event-hub';

const hashTicket = (ticket: string) => createHash('sha256').update(ticket).digest('hex');

export interface EventStreams {
  /** GET /v1/events: mounted before bearer authentication, since a ticket may stand in for it. */
  streamRouter: Router;
  /** POST /v1/events/tickets: behind bearer authentication. */
  ticketRouter: Router;
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

  const streamRouter = Router();
  streamRouter.get('/v1/events', viaTicketOrBearer, requireScope('sms:read'), async (req, res) => {
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
  });

  const ticketRouter = Router();
  ticketRouter.post('/v1/events/tickets', requireScope('sms:read'), async (req, res) => {
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
  });

  return {
    streamRouter,
    ticketRouter,
    open: () => open.size,
    closeAll() {
      for (const res of open) res.end();
      open.clear();
    },
  };
}

function parseLastEventId(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d{1,15}$/.test(value)) {
    throw new ApiError(
      'FIELD_INVALID',
      `Last-Event-ID: expected an event id from this stream, got '${value.slice(0, 20)}'`,
    );
  }
  return Number(value);
}
