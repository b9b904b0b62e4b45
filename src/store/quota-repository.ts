import { sql } from 'kysely';
import type { Db } from './database';

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

export function createQuotaRepository(db: Db): QuotaRepository {
  return {
    async reserve(tenantId, demands, total) {
      try {
        await db.transaction().execute(async (trx) => {
          for (const { period, limit, amount: own } of demands) {
            const amount = own ?? total;
            await trx
              .insertInto('quota_usage')
              .values({ tenant_id: tenantId, period, used: 0 })
              .onConflict((oc) => oc.columns(['tenant_id', 'period']).doNothing())
              .execute();
            const result = await trx
              .updateTable('quota_usage')
              .set({ used: sql<number>`used + ${amount}` })
              .where('tenant_id', '=', tenantId)
              .where('period', '=', period)
              .where(sql<number>`used + ${amount}`, '<=', limit)
              .executeTakeFirst();
            if (Number(result.numUpdatedRows) === 0) throw new QuotaExceeded(period);
          }
        });
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
