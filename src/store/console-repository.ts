import type { Db, MessagesTable } from './database';

/** The operators' message search: every filter optional, combined with AND. */
export interface ConsoleMessageQuery {
  tenantId?: string | undefined;
  status?: string | undefined;
  /** ISO times: created at or after `from`, before `to`. */
  from?: string | undefined;
  to?: string | undefined;
  /** The last digits of the recipient's number. */
  lastDigits?: string | undefined;
  reference?: string | undefined;
}

/** A message as the console reads it (the caller masks the number before it leaves the gateway). */
export interface ConsoleMessage {
  id: string;
  tenantId: string;
  batchId: string;
  recipient: string;
  sender: string;
  segments: number;
  status: string;
  reference: string | null;
  providerMessageId: string | null;
  error: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface WebhookHealth {
  lastSuccessAt: string | null;
  /** Deliveries waiting for a retry after a failed attempt. */
  retrying: number;
  deadLetters: number;
}

export interface DisabledEndpoint {
  tenantId: string;
  url: string;
  disabledAt: string;
  reason: string;
}

export interface DeadLetterDetail {
  id: number;
  eventId: string;
  tenantId: string;
  type: string;
  state: string;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  /** The event body as it would be delivered. */
  payload: string;
  createdAt: string;
  updatedAt: string;
}

/** The console's reads across tenants (operators only); no write here. */
export interface ConsoleRepository {
  searchMessages(
    query: ConsoleMessageQuery,
    page: { offset: number; size: number },
  ): Promise<{ items: ConsoleMessage[]; total: number }>;
  findMessage(
    id: string,
  ): Promise<
    (ConsoleMessage & { history: { status: string; detail: string | null; at: string }[] }) | undefined
  >;
  /** The tenant's messages created since `since`, counted by their status now. */
  statusCounts(tenantId: string, since: string): Promise<Record<string, number>>;
  webhookHealth(tenantId: string): Promise<WebhookHealth>;
  disabledEndpoints(): Promise<DisabledEndpoint[]>;
  deadLetter(id: number): Promise<DeadLetterDetail | undefined>;
}

export function createConsoleRepository(db: Db): ConsoleRepository {
  const filtered = (query: ConsoleMessageQuery) =>
    db
      .selectFrom('messages')
      .$if(query.tenantId !== undefined, (q) => q.where('tenant_id', '=', query.tenantId ?? ''))
      .$if(query.status !== undefined, (q) => q.where('status', '=', query.status ?? ''))
      .$if(query.from !== undefined, (q) => q.where('created_at', '>=', query.from ?? ''))
      .$if(query.to !== undefined, (q) => q.where('created_at', '<', query.to ?? ''))
      .$if(query.reference !== undefined, (q) => q.where('reference', '=', query.reference ?? ''))
      // Digits only (checked by the route), so the pattern holds no wildcard of the caller's.
      .$if(query.lastDigits !== undefined, (q) => q.where('recipient', 'like', `%${query.lastDigits ?? ''}`));

  return {
    async searchMessages(query, page) {
      const { total } = await filtered(query)
        .select((eb) => eb.fn.countAll<number | string>().as('total'))
        .executeTakeFirstOrThrow();
      const rows = await filtered(query)
        .selectAll()
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(page.size)
        .offset(page.offset)
        .execute();
      return { items: rows.map(fromRow), total: Number(total) };
    },

    async findMessage(id) {
      const row = await db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) return undefined;
      const history = await db
        .selectFrom('message_events')
        .select(['status', 'detail', 'at'])
        .where('message_id', '=', id)
        .orderBy('id')
        .execute();
      return { ...fromRow(row), history };
    },

    async statusCounts(tenantId, since) {
      const rows = await db
        .selectFrom('messages')
        .select(['status', (eb) => eb.fn.countAll<number | string>().as('n')])
        .where('tenant_id', '=', tenantId)
        .where('created_at', '>=', since)
        .groupBy('status')
        .execute();
      return Object.fromEntries(rows.map((row) => [row.status, Number(row.n)]));
    },

    async webhookHealth(tenantId) {
      const row = await db
        .selectFrom('webhook_deliveries')
        .select((eb) => [
          eb.fn
            .max(eb.case().when('state', '=', 'done').then(eb.ref('updated_at')).else(null).end())
            .as('last_success'),
          eb.fn
            .sum<number | string | null>(
              eb
                .case()
                .when(eb.and([eb('state', '=', 'pending'), eb('attempts', '>', 0)]))
                .then(1)
                .else(0)
                .end(),
            )
            .as('retrying'),
          eb.fn
            .sum<number | string | null>(eb.case().when('state', '=', 'dead').then(1).else(0).end())
            .as('dead'),
        ])
        .where('tenant_id', '=', tenantId)
        .executeTakeFirstOrThrow();
      return {
        lastSuccessAt: row.last_success ?? null,
        retrying: Number(row.retrying ?? 0),
        deadLetters: Number(row.dead ?? 0),
      };
    },

    async disabledEndpoints() {
      const rows = await db
        .selectFrom('webhook_endpoints')
        .selectAll()
        .orderBy('disabled_at', 'desc')
        .execute();
      return rows.map((row) => ({
        tenantId: row.tenant_id,
        url: row.url,
        disabledAt: row.disabled_at,
        reason: row.reason,
      }));
    },

    async deadLetter(id) {
      const row = await db
        .selectFrom('webhook_deliveries')
        .innerJoin('events', 'events.event_id', 'webhook_deliveries.event_id')
        .select([
          'webhook_deliveries.id',
          'webhook_deliveries.event_id',
          'webhook_deliveries.tenant_id',
          'webhook_deliveries.state',
          'events.type',
          'events.payload',
          'webhook_deliveries.attempts',
          'webhook_deliveries.last_status',
          'webhook_deliveries.last_error',
          'webhook_deliveries.created_at',
          'webhook_deliveries.updated_at',
        ])
        .where('webhook_deliveries.id', '=', id)
        .executeTakeFirst();
      if (!row) return undefined;
      return {
        id: Number(row.id),
        eventId: row.event_id,
        tenantId: row.tenant_id,
        type: row.type,
        state: row.state,
        attempts: Number(row.attempts),
        lastStatus: row.last_status,
        lastError: row.last_error,
        payload: row.payload,
        createdAt: row.created_at,
        updatedAt: row.updated_at,
      };
    },
  };
}

function fromRow(row: MessagesTable): ConsoleMessage {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    batchId: row.batch_id,
    recipient: row.recipient,
    sender: row.sender,
    segments: Number(row.segments),
    status: row.status,
    reference: row.reference,
    providerMessageId: row.provider_message_id,
    error: row.error,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
