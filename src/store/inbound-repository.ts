import type { Db } from './database';
import { appendEvents, type NewEvent, type StoredEvent, type WebhookTenants } from './event-repository';

export interface InboundInput {
  id: string;
  providerMessageId: string;
  sender: string;
  text: string;
  receivedAt: string;
  /** The provider's id of the message this replies to, if any. */
  originalProviderMessageId: string | null;
  /** Routing when it is not a reply to one of our messages: a tenant by rule, or none. */
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
}

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
  ): Promise<{ counts: InboundCounts; events: StoredEvent[] }>;
  listForTenant(
    tenantId: string,
    page: { offset: number; size: number },
  ): Promise<{ items: InboundRecord[]; total: number }>;
}

/** Each newly stored message routed to a tenant becomes a `message.inbound` event, in the same transaction. */
export function createInboundRepository(db: Db, hasWebhook: WebhookTenants): InboundRepository {
  return {
    async store(items, rejected, at) {
      const counts: InboundCounts = { stored: 0, duplicates: 0, rejected: rejected.length };
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
          // A reply belongs to the tenant that sent the original, whatever the rules say.
          const original = item.originalProviderMessageId
            ? await trx
                .selectFrom('messages')
                .select(['id', 'tenant_id'])
                .where('provider_message_id', '=', item.originalProviderMessageId)
                .executeTakeFirst()
            : undefined;
          const tenantId = original ? original.tenant_id : item.fallback.tenantId;
          const routedBy = original ? 'reply' : item.fallback.routedBy;
          const result = await trx
            .insertInto('inbound_messages')
            .values({
              id: item.id,
              provider_message_id: item.providerMessageId,
              tenant_id: tenantId,
              sender: item.sender,
              text: item.text,
              received_at: item.receivedAt,
              reply_to: original?.id ?? null,
              routed_by: routedBy,
              created_at: item.createdAt,
            })
            .onConflict((oc) => oc.column('provider_message_id').doNothing())
            .executeTakeFirst();
          if (Number(result.numInsertedOrUpdatedRows ?? 0) === 0) {
            counts.duplicates += 1;
            continue;
          }
          counts.stored += 1;
          if (tenantId === null) continue;
          arrivals.push({
            tenantId,
            type: 'message.inbound',
            data: {
              id: item.id,
              from: item.sender,
              text: item.text,
              receivedAt: item.receivedAt,
              replyTo: original?.id ?? null,
              routedBy,
            },
          });
        }
        return appendEvents(trx, arrivals, at, hasWebhook);
      });
      return { counts, events };
    },

    async listForTenant(tenantId, page) {
      const { total } = await db
        .selectFrom('inbound_messages')
        .select((eb) => eb.fn.countAll<number | string>().as('total'))
        .where('tenant_id', '=', tenantId)
        .executeTakeFirstOrThrow();
      const rows = await db
        .selectFrom('inbound_messages')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(page.size)
        .offset(page.offset)
        .execute();
      return {
        total: Number(total),
        items: rows.map((row) => ({
          id: row.id,
          tenantId: row.tenant_id,
          sender: row.sender,
          text: row.text,
          receivedAt: row.received_at,
          replyTo: row.reply_to,
          routedBy: row.routed_by,
          createdAt: row.created_at,
        })),
      };
    },
  };
}
