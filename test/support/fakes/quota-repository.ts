import type { QuotaRepository } from '../../../src/store';

export interface FakeQuotaRepository extends QuotaRepository {
  /** Segments used in one period (0 when never reserved). */
  used(tenantId: string, period: string): number;
}

/** Quota usage in memory: all periods or none, never over a limit, never below zero. */
export function createFakeQuotaRepository(): FakeQuotaRepository {
  const usage = new Map<string, number>();
  const key = (tenantId: string, period: string) => `${tenantId}\u0000${period}`;
  const used = (tenantId: string, period: string) => usage.get(key(tenantId, period)) ?? 0;

  return {
    async reserve(tenantId, demands, total) {
      const over = demands.find(
        ({ period, limit, amount }) => used(tenantId, period) + (amount ?? total) > limit,
      );
      if (over) return { exceeded: over.period };
      for (const { period, amount } of demands)
        usage.set(key(tenantId, period), used(tenantId, period) + (amount ?? total));
      return { exceeded: undefined };
    },

    async release(tenantId, periods, amount) {
      if (amount <= 0) return;
      for (const period of periods) {
        if (usage.has(key(tenantId, period))) {
          usage.set(key(tenantId, period), Math.max(0, used(tenantId, period) - amount));
        }
      }
    },

    async usage(tenantId, periods) {
      return new Map(periods.filter((p) => usage.has(key(tenantId, p))).map((p) => [p, used(tenantId, p)]));
    },

    used,
  };
}
