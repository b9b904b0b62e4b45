import { ulidFactory } from '../security';
import type { Transaction } from 'kysely';
import type { Database, Db } from './database';
import { insertText } from './statements';
import { dialectOf, runPlanIn, type Plan, type PlanDialect } from './write-plan';
import { ownedBy } from './subject';

export type EventType =
  | 'message.status'
  | 'message.inbound'
  | 'contact.opted_out'
  | 'contact.opted_in'
  | 'account.low_balance'
  | 'verification.approved'
  | 'verification.expired'
  | 'fraud.suspected';

/**
 * The operators' channel: events for no tenant (fraud.suspected) are stored under this id, which no
 * tenant can have (tenant ids start with a letter or digit), and delivered to adminEvents.webhook
 * and GET /v1/admin/events.
 */
export const ADMIN_CHANNEL = '_admin';

export interface NewEvent {
  tenantId: string;
  /** Whose event inside the tenant (the subject of the message it is about); null or absent: none. */
  subject?: string | null;
  type: EventType;
  data: Record<string, unknown>;
}

export interface StoredEvent {
  /** Increasing; the SSE id. */
  id: number;
  /** The webhook-id. */
  eventId: string;
  tenantId: string;
  /** See NewEvent; absent on events published by a replica from before subjects. */
  subject?: string | null;
  type: EventType;
  /** `{"id","type","timestamp","data"}` as JSON, exactly as delivered. */
  payload: string;
  createdAt: string;
}

/** Which tenants get an outbox row (a webhook to deliver to) for their events. */
export type WebhookTenants = (tenantId: string) => boolean;

const nextUlid = ulidFactory();

/**
 * Appends events inside the caller's transaction, each with its outbox row when the tenant has a
 * webhook: the state change, the event and its delivery commit together or not at all.
 */
export async function appendEvents(
  trx: Transaction<Database>,
  events: NewEvent[],
  at: string,
  hasWebhook: WebhookTenants,
): Promise<StoredEvent[]> {
  // No events, no statements: the plan returns before its lock.
  return runPlanIn(trx, appendEventsPlan(dialectOf(trx), events, at, hasWebhook));
}

const EVENT_COLUMNS = ['event_id', 'tenant_id', 'type', 'payload', 'created_at', 'subject'] as const;
const DELIVERY_COLUMNS = [
  'event_id',
  'tenant_id',
  'state',
  'attempts',
  'next_attempt_at',
  'lease_until',
  'last_status',
  'last_error',
  'created_at',
  'updated_at',
] as const;

/** appendEvents as a plan (write-plan.ts), for writes that run synchronously on SQLite. */
export function* appendEventsPlan(
  dialect: PlanDialect,
  events: NewEvent[],
  at: string,
  hasWebhook: WebhookTenants,
): Plan<StoredEvent[]> {
  const stored: StoredEvent[] = [];
  if (events.length === 0) return stored;
  // On PostgreSQL, ids from a sequence can commit out of order, and a Last-Event-ID replay
  // (`id > n`) would then skip one; a transaction-scoped lock makes appends commit in id order.
  if (dialect.postgres) yield { text: 'select pg_advisory_xact_lock(7261720)', values: [] };
  const insertEvent = insertText(dialect.placeholder, 'events', EVENT_COLUMNS, 1, ' returning "id"');
  const insertDelivery = insertText(dialect.placeholder, 'webhook_deliveries', DELIVERY_COLUMNS, 1);
  for (const event of events) {
    const eventId = `evt_${nextUlid(Date.parse(at))}`;
    const payload = JSON.stringify({ id: eventId, type: event.type, timestamp: at, data: event.data });
    const subject = event.subject ?? null;
    const [row] = yield {
      text: insertEvent,
      values: [eventId, event.tenantId, event.type, payload, at, subject],
    };
    if (row === undefined) throw new Error('the event insert returned no id');
    if (hasWebhook(event.tenantId)) {
      yield {
        text: insertDelivery,
        values: [eventId, event.tenantId, 'pending', 0, at, null, null, null, at, at],
      };
    }
    stored.push({
      id: Number(row.id),
      eventId,
      tenantId: event.tenantId,
      subject,
      type: event.type,
      payload,
      createdAt: at,
    });
  }
  return stored;
}

/** Who a ticket was issued to, and so what the stream it opens may show. */
export interface TicketOwner {
  tenantId: string;
  subject: string | null;
  /** The whole tenant's events (sms:read:all), or only `subject`'s. */
  readAll: boolean;
}

export interface EventRepository {
  /**
   * This tenant's events after `afterId`, oldest first (SSE replay); with `subject` (null: none),
   * only that subject's.
   */
  listSince(
    tenantId: string,
    afterId: number,
    limit: number,
    subject?: string | null,
  ): Promise<StoredEvent[]>;
  /** `owner` without subject and readAll: the whole tenant (as tickets were before subjects). */
  createTicket(
    ticketHash: string,
    tenantId: string,
    expiresAt: string,
    now: string,
    owner?: { subject: string | null; readAll: boolean },
  ): Promise<void>;
  /** Uses a ticket up: whom it was issued to, or null if unknown, expired or already used. */
  redeemTicket(ticketHash: string, now: string): Promise<TicketOwner | null>;
}

export function createEventRepository(db: Db): EventRepository {
  return {
    async listSince(tenantId, afterId, limit, subject) {
      const rows = await db
        .selectFrom('events')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .$if(subject !== undefined, (q) => q.where(ownedBy(subject)))
        .where('id', '>', afterId)
        .orderBy('id', 'asc')
        .limit(limit)
        .execute();
      return rows.map((row) => ({
        id: Number(row.id),
        eventId: row.event_id,
        tenantId: row.tenant_id,
        subject: row.subject ?? null,
        type: row.type as EventType,
        payload: row.payload,
        createdAt: row.created_at,
      }));
    },

    async createTicket(ticketHash, tenantId, expiresAt, now, owner = { subject: null, readAll: true }) {
      await db.deleteFrom('event_tickets').where('expires_at', '<', now).execute();
      await db
        .insertInto('event_tickets')
        .values({
          ticket_hash: ticketHash,
          tenant_id: tenantId,
          expires_at: expiresAt,
          used_at: null,
          subject: owner.subject,
          read_all: owner.readAll ? 1 : 0,
        })
        .execute();
    },

    async redeemTicket(ticketHash, now) {
      // One conditional UPDATE: two replicas racing for the same ticket cannot both win.
      const result = await db
        .updateTable('event_tickets')
        .set({ used_at: now })
        .where('ticket_hash', '=', ticketHash)
        .where('used_at', 'is', null)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return null;
      const row = await db
        .selectFrom('event_tickets')
        .select(['tenant_id', 'subject', 'read_all'])
        .where('ticket_hash', '=', ticketHash)
        .executeTakeFirst();
      if (!row) return null;
      return { tenantId: row.tenant_id, subject: row.subject ?? null, readAll: Number(row.read_all) === 1 };
    },
  };
}
