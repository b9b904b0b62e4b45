import { sql } from 'kysely';
import type { Db } from './database';
import { insertText } from './statements';
import { runPlan, type Plan, type PlanDialect } from './write-plan';

export interface QuotaDemand {
  period: string;
  limit: number;
  /** This period's own amount (credit periods count hundredths of credits); default: the call's. */
  amount?: number;
}

export interface QuotaRepository {
  /**
   * Adds `amount` to every period's usage, or to none: if any would go over its limit, nothing
   * changes and that period is returned. Safe under concurrency: each increment is a conditional
   * UPDATE inside one transaction, so two racing reservations can never both fit in the last room.
   */
  reserve(
    tenantId: string,
    demands: QuotaDemand[],
    amount: number,
  ): Promise<{ exceeded: string | undefined }>;
  release(tenantId: string, periods: string[], amount: number): Promise<void>;
  usage(tenantId: string, periods: string[]): Promise<Map<string, number>>;
}

class QuotaExceeded extends Error {
  constructor(readonly period: string) {
    super(`quota exceeded for ${period}`);
  }
}

/**
 * Adds to every period's row (created at 0 when missing), each a conditional UPDATE that changes
 * nothing over the limit; throws QuotaExceeded, which rolls the whole reservation back.
 */
function* reservePlan(
  { placeholder: p }: PlanDialect,
  tenantId: string,
  demands: QuotaDemand[],
  total: number,
): Plan<void> {
  const create = insertText(
    p,
    'quota_usage',
    ['tenant_id', 'period', 'used'],
    1,
    ' on conflict ("tenant_id", "period") do nothing',
  );
  const add = `update "quota_usage" set "used" = "used" + ${p(1)} where "tenant_id" = ${p(2)} and "period" = ${p(3)} and "used" + ${p(4)} <= ${p(5)} returning "used"`;
  for (const { period, limit, amount: own } of demands) {
    const amount = own ?? total;
    yield { text: create, values: [tenantId, period, 0] };
    const updated = yield { text: add, values: [amount, tenantId, period, amount, limit] };
    if (updated.length === 0) throw new QuotaExceeded(period);
  }
}

export function createQuotaRepository(db: Db): QuotaRepository {
  return {
    async reserve(tenantId, demands, total) {
      try {
        // A plan (write-plan.ts): synchronous on SQLite, one kysely transaction on PostgreSQL.
        await runPlan(db, (dialect) => reservePlan(dialect, tenantId, demands, total));
        return { exceeded: undefined };
      } catch (error) {
        if (error instanceof QuotaExceeded) return { exceeded: error.period };
        throw error;
      }
    },

    async release(tenantId, periods, amount) {
      if (periods.length === 0 || amount <= 0) return;
      await db
        .updateTable('quota_usage')
        .set({ used: sql<number>`case when used >= ${amount} then used - ${amount} else 0 end` })
        .where('tenant_id', '=', tenantId)
        .where('period', 'in', periods)
        .execute();
    },

    async usage(tenantId, periods) {
      if (periods.length === 0) return new Map();
      const rows = await db
        .selectFrom('quota_usage')
        .select(['period', 'used'])
        .where('tenant_id', '=', tenantId)
        .where('period', 'in', periods)
        .execute();
      return new Map(rows.map((row) => [row.period, Number(row.used)]));
    },
  };
}
