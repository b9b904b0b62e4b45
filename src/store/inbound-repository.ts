import type { Transaction } from 'kysely';
import type { Database, Db, InboundMessagesTable } from './database';
import { appendEvents, type NewEvent, type StoredEvent, type WebhookTenants } from './event-repository';
import { applySuppressionChanges, type AppliedChange, type OptOutRules } from './suppression-repository';
import { ownedBy } from './subject';

export interface InboundInput {
  id: string;
  providerMessageId: string;
  sender: string;
  text: string;
  receivedAt: string;
  /** The provider's id of the message this replies to, if any. */
  originalProviderMessageId: string | null;
  /** The custom_string the provider echoed with a reply: our batch id. */
  customString: string | null;
  /** Routing when it is not a reply at all: a tenant by rule, or none. Never used for a reply. */
  fallback: { tenantId: string | null; routedBy: 'keyword' | 'default' | 'none' };
  createdAt: string;
}

export interface InboundRecord {
  id: string;
  tenantId: string | null;
  sender: string;
  text: string;
  receivedAt: string;
  replyTo: string | null;
  routedBy: string;
  createdAt: string;
  originalMessageId: string | null;
  customString: string | null;
  /** A reply's owner: the subject of the message it answers (null: no end user, or no reply). */
  subject?: string | null;
}

/** An operator's assignment: done, or why not. */
export type AssignResult =
  | { outcome: 'assigned'; record: InboundRecord; events: StoredEvent[]; optChanges: AppliedChange[] }
  | { outcome: 'not_found' | 'already_routed'; events: [] };

export interface InboundCounts {
  stored: number;
  duplicates: number;
  rejected: number;
}

export interface InboundRepository {
  /** Stores new inbound messages once each (by the provider's id), routed, in one transaction. */
  store(
    items: InboundInput[],
    rejected: { reason: string; payload: string }[],
    at: string,
  ): Promise<{ counts: InboundCounts; events: StoredEvent[]; optChanges: AppliedChange[] }>;
  /** With `subject` (null: none), only replies to that subject's messages. */
  listForTenant(
    tenantId: string,
    page: { offset: number; size: number },
    subject?: string | null,
  ): Promise<{ items: InboundRecord[]; total: number }>;
  /** Inbound messages no tenant has (held replies, and texts no rule routed), newest first. */
  listUnrouted(page: { offset: number; size: number }): Promise<{ items: InboundRecord[]; total: number }>;
  /** Routes an unrouted message to a tenant, with its `message.inbound` event, in one transaction. */
  assign(id: string, tenantId: string, at: string): Promise<AssignResult>;
}

/**
 * Where an inbound message goes. A reply belongs to the tenant that sent the original, whatever the
 * rules say: found by the provider's id, else by our batch id (custom_string) and the replying
 * number being one of that batch's recipients. A reply naming an original we cannot place is
 * held for an operator: routing it by keyword or default could hand one tenant's conversation to
 * another. Only a text that is not a reply at all goes by the rules.
 */
async function routeOf(
  trx: Transaction<Database>,
  item: InboundInput,
): Promise<{ tenantId: string | null; routedBy: string; replyTo: string | null; subject: string | null }> {
  const original = item.originalProviderMessageId
    ? await trx
        .selectFrom('messages')
        .select(['id', 'tenant_id', 'subject'])
        .where('provider_message_id', '=', item.originalProviderMessageId)
        .executeTakeFirst()
    : undefined;
  const inBatch =
    !original && item.customString
      ? await trx
          .selectFrom('messages')
          .select(['id', 'tenant_id', 'subject'])
          .where('batch_id', '=', item.customString)
          .where('recipient', '=', item.sender)
          .executeTakeFirst()
      : undefined;
  const replied = original ?? inBatch;
  if (replied)
    return {
      tenantId: replied.tenant_id,
      routedBy: 'reply',
      replyTo: replied.id,
      subject: replied.subject ?? null,
    };
  if (item.originalProviderMessageId || item.customString) {
    return { tenantId: null, routedBy: 'held', replyTo: null, subject: null };
  }
  return { ...item.fallback, replyTo: null, subject: null };
}

function arrival(tenantId: string, record: InboundRecord): NewEvent {
  return {
    tenantId,
    subject: record.subject ?? null,
    type: 'message.inbound',
    data: {
      id: record.id,
      from: record.sender,
      text: record.text,
      receivedAt: record.receivedAt,
      replyTo: record.replyTo,
      routedBy: record.routedBy,
    },
  };
}

function fromRow(row: InboundMessagesTable): InboundRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    sender: row.sender,
    text: row.text,
    receivedAt: row.received_at,
    replyTo: row.reply_to,
    routedBy: row.routed_by,
    createdAt: row.created_at,
    originalMessageId: row.original_message_id,
    customString: row.custom_string,
    subject: row.subject ?? null,
  };
}

/**
 * Each newly stored message routed to a tenant becomes a `message.inbound` event, in the same
 * transaction; an opt-out or opt-in keyword changes the suppression list in it too (`optOuts`), so a
 * send on any replica sees the change as soon as the provider has its 200.
 */
export function createInboundRepository(
  db: Db,
  hasWebhook: WebhookTenants,
  optOuts?: OptOutRules,
): InboundRepository {
  async function optChangesOf(
    trx: Transaction<Database>,
    tenantId: string | null,
    record: InboundRecord,
    at: string,
  ): Promise<{ applied: AppliedChange[]; events: NewEvent[] }> {
    const change = optOuts?.changeOf(tenantId, record.text);
    if (!optOuts || !change) return { applied: [], events: [] };
    const reason = `reply '${record.text.slice(0, 40)}' (${record.id})`;
    const { applied, events } = await applySuppressionChanges(
      trx,
      [{ ...change, number: record.sender, source: 'reply', reason }],
      at,
      optOuts.audience,
    );
    return { applied: applied.map((a) => ({ ...a, repliedTo: tenantId })), events };
  }

  async function list(
    tenantId: string | null,
    page: { offset: number; size: number },
    subject?: string | null,
  ): Promise<{ items: InboundRecord[]; total: number }> {
    const filtered = db
      .selectFrom('inbound_messages')
      .where((eb) => (tenantId === null ? eb('tenant_id', 'is', null) : eb('tenant_id', '=', tenantId)))
      .$if(subject !== undefined, (q) => q.where(ownedBy(subject)));
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
    return { total: Number(total), items: rows.map(fromRow) };
  }

  return {
    async store(items, rejected, at) {
      const counts: InboundCounts = { stored: 0, duplicates: 0, rejected: rejected.length };
      const optChanges: AppliedChange[] = [];
      const events = await db.transaction().execute(async (trx) => {
        const arrivals: NewEvent[] = [];
        for (const item of rejected) {
          await trx
            .insertInto('rejected_callbacks')
            .values({
              kind: 'inbound',
              reason: item.reason,
              payload: item.payload,
              received_at: at,
            })
            .execute();
        }
        for (const item of items) {
          const route = await routeOf(trx, item);
          const record: InboundRecord = {
            id: item.id,
            tenantId: route.tenantId,
            sender: item.sender,
            text: item.text,
            receivedAt: item.receivedAt,
            replyTo: route.replyTo,
            routedBy: route.routedBy,
            createdAt: item.createdAt,
            originalMessageId: item.originalProviderMessageId,
            customString: item.customString,
            subject: route.subject,
          };
          const result = await trx
            .insertInto('inbound_messages')
            .values({
              id: record.id,
              provider_message_id: item.providerMessageId,
              tenant_id: record.tenantId,
              sender: record.sender,
              text: record.text,
              received_at: record.receivedAt,
              reply_to: record.replyTo,
              routed_by: record.routedBy,
              created_at: record.createdAt,
              original_message_id: record.originalMessageId,
              custom_string: record.customString,
              subject: route.subject,
            })
            .onConflict((oc) => oc.column('provider_message_id').doNothing())
            .executeTakeFirst();
          if (Number(result.numInsertedOrUpdatedRows ?? 0) === 0) {
            counts.duplicates += 1;
            continue;
          }
          counts.stored += 1;
          if (record.tenantId !== null) arrivals.push(arrival(record.tenantId, record));
          const opt = await optChangesOf(trx, record.tenantId, record, at);
          optChanges.push(...opt.applied);
          arrivals.push(...opt.events);
        }
        return appendEvents(trx, arrivals, at, hasWebhook);
      });
      return { counts, events, optChanges };
    },

    listForTenant: (tenantId, page, subject) => list(tenantId, page, subject),
    listUnrouted: (page) => list(null, page),

    async assign(id, tenantId, at) {
      return db.transaction().execute(async (trx): Promise<AssignResult> => {
        // Conditional on still having no tenant: two operators assigning at once, one wins.
        const result = await trx
          .updateTable('inbound_messages')
          .set({ tenant_id: tenantId, routed_by: 'operator' })
          .where('id', '=', id)
          .where('tenant_id', 'is', null)
          .executeTakeFirst();
        if (Number(result.numUpdatedRows) === 0) {
          const exists = await trx
            .selectFrom('inbound_messages')
            .select('id')
            .where('id', '=', id)
            .executeTakeFirst();
          return { outcome: exists ? 'already_routed' : 'not_found', events: [] };
        }
        const row = await trx
          .selectFrom('inbound_messages')
          .selectAll()
          .where('id', '=', id)
          .executeTakeFirstOrThrow();
        const record = fromRow(row);
        // A held STOP counts once an operator places it (an account-wide one already did).
        // (Changes are idempotent: one an account-wide list already made adds nothing.)
        const opt = await optChangesOf(trx, tenantId, record, at);
        const events = await appendEvents(trx, [arrival(tenantId, record), ...opt.events], at, hasWebhook);
        return { outcome: 'assigned', record, events, optChanges: opt.applied };
      });
    },
  };
}
