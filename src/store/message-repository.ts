import { sql, type ExpressionBuilder, type Transaction } from 'kysely';
import type { Database, Db, MessagesTable } from './database';
import { appendEvents, type StoredEvent, type WebhookTenants } from './event-repository';
import { movesForwardTo } from './message-status';

/** A message as the ledger keeps it: one row per recipient. */
export interface MessageRecord {
  id: string;
  tenantId: string;
  batchId: string;
  recipient: string;
  sender: string;
  text: string;
  segments: number;
  encoding: string;
  status: string;
  reference: string | null;
  providerMessageId: string | null;
  error: string | null;
  scheduledAt: string | null;
  createdAt: string;
  updatedAt: string;
  /** The sending token's `sub`; null when it had none (backends, forms' replies aside). */
  subject?: string | null;
}

export interface StatusChange {
  status: string;
  detail: string | null;
  at: string;
}

export interface MessageOutcome {
  id: string;
  status: string;
  providerMessageId?: string | null;
  error?: string | null;
}

/** What recording outcomes changed: the messages that moved, and their events. */
export interface RecordedOutcomes {
  /** Ids of the messages whose status moved; the others already had a later one (e.g. from a report). */
  applied: string[];
  events: StoredEvent[];
}

export interface MessageFilter {
  status?: string | undefined;
  tenantId?: string | undefined;
}

/** A durable send to queue with its messages (the batch id is the messages'). */
export interface NewSendJob {
  tenantId: string;
  request: string;
  expiresAt: string;
}

export interface MessageRepository {
  /** Records a batch of new messages and their first status in one transaction (with its send job, if any). */
  insertBatch(messages: MessageRecord[], job?: NewSendJob): Promise<void>;
  /**
   * Applies outcomes to messages in one transaction, each only if it moves the message forward
   * (a delivery report may have come first) and keeping a provider id already known; with
   * `announce`, each applied one also becomes a `message.status` event (and outbox row) in it.
   */
  recordOutcomes(
    outcomes: MessageOutcome[],
    at: string,
    announce?: { messages: MessageRecord[]; hasWebhook: WebhookTenants },
  ): Promise<RecordedOutcomes>;
  /** The messages of one batch, in recipient order. */
  findBatch(batchId: string): Promise<MessageRecord[]>;
  /** `subject`: only a message with this subject (null: none); undefined: any of the tenant's. */
  findForTenant(
    tenantId: string,
    id: string,
    subject?: string | null,
  ): Promise<(MessageRecord & { history: StatusChange[] }) | undefined>;
  listForTenant(
    tenantId: string,
    page: { offset: number; size: number },
    subject?: string | null,
  ): Promise<{ items: MessageRecord[]; total: number }>;
  /** Every tenant's messages (for operators), optionally by status and tenant, newest first. */
  listAll(
    filter: MessageFilter,
    page: { offset: number; size: number },
  ): Promise<{ items: MessageRecord[]; total: number }>;
}

export function createMessageRepository(db: Db): MessageRepository {
  return {
    async insertBatch(messages, job) {
      if (messages.length === 0) return;
      await db.transaction().execute(async (trx) => {
        if (job) await insertJob(trx, messages[0]!, job);
        // SQLite caps bound parameters per statement; 15 columns x 60 rows stays well under it.
        for (const chunk of chunks(messages, 60)) {
          await trx.insertInto('messages').values(chunk.map(toRow)).execute();
          await trx
            .insertInto('message_events')
            .values(chunk.map((m) => ({ message_id: m.id, status: m.status, detail: null, at: m.createdAt })))
            .execute();
        }
      });
    },

    async recordOutcomes(outcomes, at, announce) {
      if (outcomes.length === 0) return { applied: [], events: [] };
      return db.transaction().execute(async (trx) => {
        const moved = new Set<string>();
        for (const chunk of outcomeChunks(outcomes)) {
          for (const id of await applyOutcomes(trx, chunk, at)) moved.add(id);
        }
        const applied = outcomes.filter((o) => moved.has(o.id));
        for (const chunk of chunks(applied, 200)) {
          await trx
            .insertInto('message_events')
            .values(chunk.map((o) => ({ message_id: o.id, status: o.status, detail: o.error ?? null, at })))
            .execute();
        }
        const ids = applied.map((o) => o.id);
        if (!announce) return { applied: ids, events: [] };
        const byId = new Map(announce.messages.map((m) => [m.id, m]));
        const events = applied.flatMap((o) => {
          const message = byId.get(o.id);
          if (!message) return [];
          const data = {
            messageId: o.id,
            status: o.status,
            to: message.recipient,
            reference: message.reference,
            batchId: message.batchId,
            error: o.error ?? null,
            at,
          };
          return [
            {
              tenantId: message.tenantId,
              subject: message.subject ?? null,
              type: 'message.status' as const,
              data,
            },
          ];
        });
        return { applied: ids, events: await appendEvents(trx, events, at, announce.hasWebhook) };
      });
    },

    async findBatch(batchId) {
      const rows = await db
        .selectFrom('messages')
        .selectAll()
        .where('batch_id', '=', batchId)
        .orderBy('id')
        .execute();
      return rows.map(fromRow);
    },

    async findForTenant(tenantId, id, subject) {
      const row = await db
        .selectFrom('messages')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('id', '=', id)
        .$if(subject !== undefined, (q) => q.where(ownedBy(subject)))
        .executeTakeFirst();
      if (!row) return undefined;
      const history = await db
        .selectFrom('message_events')
        .select(['status', 'detail', 'at'])
        .where('message_id', '=', id)
        .orderBy('id')
        .execute();
      return { ...fromRow(row), history };
    },

    async listForTenant(tenantId, page, subject) {
      const [{ total }] = (await db
        .selectFrom('messages')
        .select((eb) => eb.fn.countAll<number | string>().as('total'))
        .where('tenant_id', '=', tenantId)
        .$if(subject !== undefined, (q) => q.where(ownedBy(subject)))
        .execute()) as [{ total: number | string }];
      const rows = await db
        .selectFrom('messages')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .$if(subject !== undefined, (q) => q.where(ownedBy(subject)))
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(page.size)
        .offset(page.offset)
        .execute();
      return { items: rows.map(fromRow), total: Number(total) };
    },

    async listAll(filter, page) {
      const filtered = db
        .selectFrom('messages')
        .$if(filter.status !== undefined, (q) => q.where('status', '=', filter.status as string))
        .$if(filter.tenantId !== undefined, (q) => q.where('tenant_id', '=', filter.tenantId as string));
      const { total } = await filtered
        .select((eb) => eb.fn.countAll<number | string>().as('total'))
        .executeTakeFirstOrThrow();
      const rows = await filtered
        .selectAll()
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(page.size)
        .offset(page.offset)
        .execute();
      return { items: rows.map(fromRow), total: Number(total) };
    },
  };
}

/**
 * Outcomes with the same status and error, at most 200 together (3 parameters each, under
 * SQLite's 999): a 1000-number send is recorded in a handful of statements, not 1000.
 */
function outcomeChunks(outcomes: MessageOutcome[]): MessageOutcome[][] {
  const groups = new Map<string, MessageOutcome[]>();
  for (const outcome of outcomes) {
    const key = JSON.stringify([outcome.status, outcome.error ?? null]);
    const group = groups.get(key);
    if (group) group.push(outcome);
    else groups.set(key, [outcome]);
  }
  return [...groups.values()].flatMap((group) => chunks(group, 200));
}

/**
 * One conditional UPDATE for outcomes sharing a status and error: only rows it moves forward
 * (the WHERE is the rank check, so a report committed meanwhile is never overwritten), keeping a
 * provider id already known. Returns the ids it changed.
 */
async function applyOutcomes(
  trx: Transaction<Database>,
  chunk: MessageOutcome[],
  at: string,
): Promise<string[]> {
  const { status, error } = chunk[0] as MessageOutcome;
  const named = chunk.filter((o) => o.providerMessageId);
  const providerIds = sql<string | null>`case id ${sql.join(
    named.map((o) => sql`when ${o.id} then ${o.providerMessageId}`),
    sql` `,
  )} end`;
  const rows = await trx
    .updateTable('messages')
    .set((eb) => ({
      status,
      error: error ?? null,
      updated_at: at,
      ...(named.length > 0
        ? { provider_message_id: eb.fn.coalesce('provider_message_id', providerIds) }
        : {}),
    }))
    .where(
      'id',
      'in',
      chunk.map((o) => o.id),
    )
    .where(movesForwardTo(status))
    .returning('id')
    .execute();
  return rows.map((row) => row.id);
}

/** Rows of one subject: `subject = ?`, or `subject is null` for a token without one. */
export function ownedBy(subject: string | null | undefined) {
  return (eb: ExpressionBuilder<Database, 'messages' | 'events' | 'inbound_messages'>) =>
    subject === null || subject === undefined ? eb('subject', 'is', null) : eb('subject', '=', subject);
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function toRow(m: MessageRecord): MessagesTable {
  return {
    id: m.id,
    tenant_id: m.tenantId,
    batch_id: m.batchId,
    recipient: m.recipient,
    sender: m.sender,
    text: m.text,
    segments: m.segments,
    encoding: m.encoding,
    status: m.status,
    reference: m.reference,
    provider_message_id: m.providerMessageId,
    error: m.error,
    scheduled_at: m.scheduledAt,
    created_at: m.createdAt,
    updated_at: m.updatedAt,
    subject: m.subject ?? null,
  };
}

function fromRow(row: MessagesTable): MessageRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    batchId: row.batch_id,
    recipient: row.recipient,
    sender: row.sender,
    text: row.text,
    segments: Number(row.segments),
    encoding: row.encoding,
    status: row.status,
    reference: row.reference,
    providerMessageId: row.provider_message_id,
    error: row.error,
    scheduledAt: row.scheduled_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    subject: row.subject ?? null,
  };
}

async function insertJob(trx: Transaction<Database>, first: MessageRecord, job: NewSendJob): Promise<void> {
  await trx
    .insertInto('send_jobs')
    .values({
      batch_id: first.batchId,
      tenant_id: job.tenantId,
      request: job.request,
      state: 'pending',
      attempts: 0,
      next_attempt_at: first.createdAt,
      lease_until: null,
      expires_at: job.expiresAt,
      last_error: null,
      created_at: first.createdAt,
      updated_at: first.createdAt,
    })
    .execute();
}
