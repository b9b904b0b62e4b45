import type { Db } from './database';

export type IdempotencyClaim =
  | { kind: 'new' }
  | { kind: 'in_flight' }
  | { kind: 'mismatch' }
  | { kind: 'replay'; status: number; body: string };

export interface IdempotencyRepository {
  /** Claims the key for this request, or says why not (in flight, other body, or answered already). */
  claim(
    scope: string,
    key: string,
    fingerprint: string,
    now: string,
    expiresAt: string,
  ): Promise<IdempotencyClaim>;
  /** Keeps the answer for replays. */
  complete(scope: string, key: string, status: number, body: string): Promise<void>;
  /** Forgets the key (the request may be tried again as new). */
  release(scope: string, key: string): Promise<void>;
  /** Deletes at most `limit` keys past their retention; returns how many it deleted. */
  deleteExpired(now: string, limit: number): Promise<number>;
}

export function createIdempotencyRepository(db: Db): IdempotencyRepository {
  return {
    async claim(scope, key, fingerprint, now, expiresAt) {
      // A key past its retention is free again.
      await db
        .deleteFrom('idempotency_keys')
        .where('scope', '=', scope)
        .where('key', '=', key)
        .where('expires_at', '<=', now)
        .execute();
      // The insert is the claim: of concurrent requests (on any replica) exactly one inserts.
      const inserted = await db
        .insertInto('idempotency_keys')
        .values({
          scope,
          key,
          fingerprint,
          state: 'in_flight',
          status_code: null,
          response: null,
          created_at: now,
          expires_at: expiresAt,
        })
        .onConflict((oc) => oc.columns(['scope', 'key']).doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1) return { kind: 'new' };
      const row = await db
        .selectFrom('idempotency_keys')
        .selectAll()
        .where('scope', '=', scope)
        .where('key', '=', key)
        .executeTakeFirst();
      if (!row) return { kind: 'in_flight' }; // released between our insert and read: let the client retry
      if (row.fingerprint !== fingerprint) return { kind: 'mismatch' };
      if (row.state !== 'done' || row.status_code === null || row.response === null)
        return { kind: 'in_flight' };
      return { kind: 'replay', status: row.status_code, body: row.response };
    },

    async complete(scope, key, status, body) {
      await db
        .updateTable('idempotency_keys')
        .set({ state: 'done', status_code: status, response: body })
        .where('scope', '=', scope)
        .where('key', '=', key)
        .execute();
    },

    async release(scope, key) {
      await db.deleteFrom('idempotency_keys').where('scope', '=', scope).where('key', '=', key).execute();
    },

    async deleteExpired(now, limit) {
      // Neither SQLite (as built) nor PostgreSQL takes DELETE … LIMIT: the bound goes on a subquery
      // of primary keys (row-value IN works on both), walked through the expires_at index.
      const result = await db
        .deleteFrom('idempotency_keys')
        .where((eb) =>
          eb(
            eb.refTuple('scope', 'key'),
            'in',
            eb
              .selectFrom('idempotency_keys')
              .select(['scope', 'key'])
              .where('expires_at', '<=', now)
              .orderBy('expires_at')
              .limit(limit)
              .$asTuple('scope', 'key'),
          ),
        )
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
