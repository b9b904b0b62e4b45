import type { Db } from './database';

/** A delivery report as the provider sent it, already checked for shape. */
export interface DeliveryReportInput {
  providerMessageId: string;
  /** The provider's status word, e.g. `Delivered`. */
  providerStatus: string;
  /** Our status for it, e.g. `delivered`, and its rank (a status never moves to a lower rank). */
  status: string;
  rank: number;
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
    rankOf: (status: string) => number,
  ): Promise<IntakeCounts>;
}

export function createDeliveryReportRepository(db: Db): DeliveryReportRepository {
  return {
    async store(reports, rejected, at, rankOf) {
      const counts: IntakeCounts = { applied: 0, duplicates: 0, ignored: 0, rejected: rejected.length };
      await db.transaction().execute(async (trx) => {
        for (const item of rejected) {
          await trx
            .insertInto('rejected_callbacks')
            .values({ kind: 'dlr', reason: item.reason, payload: item.payload, received_at: at })
            .execute();
        }
        for (const report of reports) {
          // Ours by the provider's id; if the send's answer was lost, by our batch reference and the number.
          let message = await trx
            .selectFrom('messages')
            .select(['id', 'tenant_id', 'status'])
            .where('provider_message_id', '=', report.providerMessageId)
            .executeTakeFirst();
          if (!message && report.customString && report.recipient) {
            message = await trx
              .selectFrom('messages')
              .select(['id', 'tenant_id', 'status'])
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
          } else if (!message || rankOf(message.status) >= report.rank) {
            counts.ignored += 1;
          } else {
            await trx
              .updateTable('messages')
              .set({ status: report.status, provider_message_id: report.providerMessageId, updated_at: at })
              .where('id', '=', message.id)
              .execute();
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
          }
        }
      });
      return counts;
    },
  };
}
