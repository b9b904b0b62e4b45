import type { Db, IdempotencyKeysTable } from './database';
import { insertText } from './statements';
import { runPlan, type Plan, type PlanDialect } from './write-plan';

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

const KEY_COLUMNS = [
  'scope',
  'key',
  'fingerprint',
  'state',
  'status_code',
  'response',
  'created_at',
  'expires_at',
] as const;

function* claimPlan(
  { placeholder: p }: PlanDialect,
  claim: { scope: string; key: string; fingerprint: string; now: string; expiresAt: string },
): Plan<IdempotencyClaim> {
  const { scope, key, fingerprint, now, expiresAt } = claim;
  // A key past its retention is free again.
  yield {
    text: `delete from "idempotency_keys" where "scope" = ${p(1)} and "key" = ${p(2)} and "expires_at" <= ${p(3)}`,
    values: [scope, key, now],
  };
  // The insert is the claim: of concurrent requests (on any replica) exactly one inserts.
  const inserted = yield {
    text: insertText(
      p,
      'idempotency_keys',
      KEY_COLUMNS,
      1,
      ' on conflict ("scope", "key") do nothing returning "scope"',
    ),
    values: [scope, key, fingerprint, 'in_flight', null, null, now, expiresAt],
  };
  if (inserted.length === 1) return { kind: 'new' };
  const rows = yield {
    text: `select "fingerprint", "state", "status_code", "response" from "idempotency_keys" where "scope" = ${p(1)} and "key" = ${p(2)}`,
    values: [scope, key],
  };
  const [row] = rows as Pick<IdempotencyKeysTable, 'fingerprint' | 'state' | 'status_code' | 'response'>[];
  if (row === undefined) return { kind: 'in_flight' }; // released between our insert and read: let the client retry
  if (row.fingerprint !== fingerprint) return { kind: 'mismatch' };
  if (row.state !== 'done' || row.status_code === null || row.response === null) return { kind: 'in_flight' };
  return { kind: 'replay', status: Number(row.status_code), body: row.response };
}

export function createIdempotencyRepository(db: Db): IdempotencyRepository {
  return {
    async claim(scope, key, fingerprint, now, expiresAt) {
      // A plan (write-plan.ts): on SQLite its three statements run synchronously, prepared once.
      return runPlan(db, (dialect) => claimPlan(dialect, { scope, key, fingerprint, now, expiresAt }));
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
