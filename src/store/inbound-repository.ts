import type { Db } from './database';

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

export interface InboundRepository {
  /** Stores new inbound messages once each (by the provider's id), routed, in one transaction. */
  store(
    items: InboundInput[],
    rejected: { reason: string; payload: string }[],
  ): Promise<{ stored: number; duplicates: number; rejected: number }>;
  listForTenant(
    tenantId: string,
    page: { offset: number; size: number },
  ): Promise<{ items: InboundRecord[]; total: number }>;
}

export function createInboundRepository(db: Db): InboundRepository {
  return {
    async store(items, rejected) {
      const counts = { stored: 0, duplicates: 0, rejected: rejected.length };
      await db.transaction().execute(async (trx) => {
        for (const item of rejected) {
          await trx
            .insertInto('rejected_callbacks')
            .values({
              kind: 'inbound',
              reason: item.reason,
              payload: item.payload,
              received_at: new Date().toISOString(),
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
          const result = await trx
            .insertInto('inbound_messages')
            .values({
              id: item.id,
              provider_message_id: item.providerMessageId,
              tenant_id: original ? original.tenant_id : item.fallback.tenantId,
              sender: item.sender,
              text: item.text,
              received_at: item.receivedAt,
              reply_to: original?.id ?? null,
              routed_by: original ? 'reply' : item.fallback.routedBy,
              created_at: item.createdAt,
            })
            .onConflict((oc) => oc.column('provider_message_id').doNothing())
            .executeTakeFirst();
          if (Number(result.numInsertedOrUpdatedRows ?? 0) === 0) counts.duplicates += 1;
          else counts.stored += 1;
        }
      });
      return counts;
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
