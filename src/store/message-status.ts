import type { Expression, ExpressionBuilder, SqlBool } from 'kysely';
import type { Database } from './database';

/**
 * Our message statuses in the order they may follow each other. A status never moves to a lower
 * or equal rank: a late `Queued` report cannot overwrite `delivered`, a send's timeout cannot
 * overwrite a delivery report that came first, and the first final status stays. `unknown` (we
 * do not know whether the provider took it) ranks below `sent`: any report proves it was sent.
 */
const RANK: Record<string, number> = {
  queued: 0,
  scheduled: 1,
  unknown: 2,
  sent: 3,
  dispatched: 4,
  delivered: 5,
  failed: 5,
  rejected: 5,
  expired: 5,
  aborted: 5,
  delivery_unknown: 5,
  // Never sent: a marketing send to a number on a suppression list (final, from `queued`).
  suppressed: 5,
};

export const MESSAGE_STATUSES = Object.keys(RANK);

export const statusRank = (status: string): number => RANK[status] ?? 0;

/**
 * `status` is one a message may still move to `next` from. As a WHERE on the UPDATE itself, so
 * the check and the write are one atomic step on PostgreSQL as on SQLite (a concurrent writer's
 * change is re-checked, never overwritten).
 */
export function movesForwardTo(next: string) {
  const lower = MESSAGE_STATUSES.filter((status) => statusRank(status) < statusRank(next));
  return (eb: ExpressionBuilder<Database, 'messages'>): Expression<SqlBool> =>
    lower.length === 0 ? eb.lit(false) : eb('status', 'in', lower);
}
