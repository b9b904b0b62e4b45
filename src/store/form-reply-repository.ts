import type { Db } from './database';

export interface FormReplyRepository {
  /** Takes today's one reply to this number from this form; false if it was taken already. */
  claimDailyReply(formId: string, recipient: string, day: string, at: string): Promise<boolean>;
}

export function createFormReplyRepository(db: Db): FormReplyRepository {
  return {
    async claimDailyReply(formId, recipient, day, at) {
      const result = await db
        .insertInto('form_replies')
        .values({ form_id: formId, recipient, day, created_at: at })
        .onConflict((oc) => oc.columns(['form_id', 'recipient', 'day']).doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
    },
  };
}
