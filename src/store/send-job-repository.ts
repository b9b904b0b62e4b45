import type { Db } from './database';

export interface SendJob {
  id: number;
  batchId: string;
  tenantId: string;
  request: string;
  /** `pending`, or `sending` when the previous attempt never finished (the process died mid-call). */
  state: string;
  attempts: number;
  expiresAt: string;
}

export interface SendJobRepository {
  /** Claims up to `limit` due jobs under a lease (a conditional UPDATE: one claimer per job, on any replica). */
  claimDue(now: string, leaseUntil: string, limit: number): Promise<SendJob[]>;
  /** Recorded *before* the provider call: if the process dies now, the job is never sent again. */
  markSending(id: number, attempts: number, at: string): Promise<void>;
  /** Nothing was sent: try again at `nextAttemptAt`. */
  retryLater(id: number, nextAttemptAt: string, error: string, at: string): Promise<void>;
  finish(id: number, at: string, error?: string): Promise<void>;
  /** Frees every lease: only for a store this process owns alone (the embedded SQLite file). */
  releaseAllLeases(): Promise<void>;
  /** Jobs not finished yet (for tests and metrics). */
  countOpen(): Promise<number>;
}

export function createSendJobRepository(db: Db): SendJobRepository {
  return {
    async claimDue(now, leaseUntil, limit) {
      const due = await db
        .selectFrom('send_jobs')
        .selectAll()
        .where('state', 'in', ['pending', 'sending'])
        .where('next_attempt_at', '<=', now)
        .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
        .orderBy('next_attempt_at')
        .orderBy('id')
        .limit(limit)
        .execute();
      const claimed: SendJob[] = [];
      for (const row of due) {
        const result = await db
          .updateTable('send_jobs')
          .set({ lease_until: leaseUntil })
          .where('id', '=', row.id)
          .where('state', '=', row.state)
          .where((eb) =>
            row.lease_until === null
              ? eb('lease_until', 'is', null)
              : eb('lease_until', '=', row.lease_until),
          )
          .executeTakeFirst();
        if (Number(result.numUpdatedRows) !== 1) continue;
        claimed.push({
          id: Number(row.id),
          batchId: row.batch_id,
          tenantId: row.tenant_id,
          request: row.request,
          state: row.state,
          attempts: row.attempts,
          expiresAt: row.expires_at,
        });
      }
      return claimed;
    },

    async markSending(id, attempts, at) {
      await db
        .updateTable('send_jobs')
        .set({ state: 'sending', attempts, updated_at: at })
        .where('id', '=', id)
        .execute();
    },

    async retryLater(id, nextAttemptAt, error, at) {
      await db
        .updateTable('send_jobs')
        .set({
          state: 'pending',
          next_attempt_at: nextAttemptAt,
          lease_until: null,
          last_error: error,
          updated_at: at,
        })
        .where('id', '=', id)
        .execute();
    },

    async finish(id, at, error) {
      await db
        .updateTable('send_jobs')
        .set({ state: 'done', lease_until: null, updated_at: at, ...(error ? { last_error: error } : {}) })
        .where('id', '=', id)
        .execute();
    },

    async releaseAllLeases() {
      await db
        .updateTable('send_jobs')
        .set({ lease_until: null })
        .where('lease_until', 'is not', null)
        .execute();
    },

    async countOpen() {
      const { n } = await db
        .selectFrom('send_jobs')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('state', '!=', 'done')
        .executeTakeFirstOrThrow();
      return Number(n);
    },
  };
}
