import type { Db } from './database';
import { appendEvents, type NewEvent, type StoredEvent, type WebhookTenants } from './event-repository';
import { movesForwardTo } from './message-status';

/** A delivery report as the provider sent it, already checked for shape. */
export interface DeliveryReportInput {
  providerMessageId: string;
  /** The provider's status word, e.g. `Delivered`. */
  providerStatus: string;
  /** Our status for it, e.g. `delivered` (a status never moves to a lower rank: see message-status.ts). */
  status: string;
  /** E.164, when the report names the recipient. */
  recipient: string | null;
  customString: string | null;
}

export interface IntakeCounts {
  /** Reports that moved one of our messages to a new status. */
  applied: number;
  /** Reports stored before (same message and status): nothing done again. */
  duplicates: number;
  /** Reports stored that changed nothing: for a message we never sent, or older than its status. */
  ignored: number;
  rejected: number;
}

export interface DeliveryReportRepository {
  /** Stores a batch of reports and what they change, all in one transaction. */
  store(
    reports: DeliveryReportInput[],
    rejected: { reason: string; payload: string }[],
    at: string,
  ): Promise<{ counts: IntakeCounts; events: StoredEvent[] }>;
}

/**
 * Each applied report becomes a `message.status` event for the tenant that sent the message,
 * stored with its outbox row in the same transaction as the report and the status change.
 */
export function createDeliveryReportRepository(db: Db, hasWebhook: WebhookTenants): DeliveryReportRepository {
  const columns = ['id', 'tenant_id', 'recipient', 'reference', 'batch_id', 'subject'] as const;
  return {
    async store(reports, rejected, at) {
      const counts: IntakeCounts = { applied: 0, duplicates: 0, ignored: 0, rejected: rejected.length };
      const events = await db.transaction().execute(async (trx) => {
        const changes: NewEvent[] = [];
        for (const item of rejected) {
          await trx
            .insertInto('rejected_callbacks')
            .values({ kind: 'dlr', reason: item.reason, payload: item.payload, received_at: at })
            .execute();
        }
        // Only forward, decided by the UPDATE itself: a send outcome or another report committed
        // meanwhile is re-checked, never overwritten. A provider id already known is kept.
        const advance = async (id: string, report: DeliveryReportInput): Promise<boolean> => {
          const result = await trx
            .updateTable('messages')
            .set((eb) => ({
              status: report.status,
              provider_message_id: eb.fn.coalesce('provider_message_id', eb.val(report.providerMessageId)),
              // A settled `unknown` no longer carries its timeout as an error (the history keeps it).
              error: null,
              updated_at: at,
            }))
            .where('id', '=', id)
            .where(movesForwardTo(report.status))
            .executeTakeFirst();
          return Number(result.numUpdatedRows) > 0;
        };
        for (const report of reports) {
          // Ours by the provider's id; if the send's answer was lost, by our batch reference and the number.
          let message = await trx
            .selectFrom('messages')
            .select(columns)
            .where('provider_message_id', '=', report.providerMessageId)
            .executeTakeFirst();
          if (!message && report.customString && report.recipient) {
            message = await trx
              .selectFrom('messages')
              .select(columns)
              .where('batch_id', '=', report.customString)
              .where('recipient', '=', report.recipient)
              .executeTakeFirst();
          }
          const inserted = await trx
            .insertInto('delivery_reports')
            .values({
              provider_message_id: report.providerMessageId,
              provider_status: report.providerStatus,
              message_id: message?.id ?? null,
              tenant_id: message?.tenant_id ?? null,
              recipient: report.recipient,
              custom_string: report.customString,
              received_at: at,
            })
            .onConflict((oc) => oc.columns(['provider_message_id', 'provider_status']).doNothing())
            .executeTakeFirst();
          if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) {
            counts.duplicates += 1;
          } else if (!message || !(await advance(message.id, report))) {
            counts.ignored += 1;
          } else {
            await trx
              .insertInto('message_events')
              .values({
                message_id: message.id,
                status: report.status,
                detail: `provider: ${report.providerStatus}`,
                at,
              })
              .execute();
            counts.applied += 1;
            changes.push({
              tenantId: message.tenant_id,
              subject: message.subject ?? null,
              type: 'message.status',
              data: {
                messageId: message.id,
                status: report.status,
                providerStatus: report.providerStatus,
                to: message.recipient,
                reference: message.reference,
                batchId: message.batch_id,
                at,
              },
            });
          }
        }
        return appendEvents(trx, changes, at, hasWebhook);
      });
      return { counts, events };
    },
  };
}
