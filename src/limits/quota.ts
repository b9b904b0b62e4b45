import type { Clock } from '../clock';
import type { Config } from '../config';
import { ApiError } from '../http';
import type { QuotaRepository } from '../store';
import { dayPeriod, monthPeriod, type Period } from './periods';

export interface QuotaStatus {
  name: 'segmentsPerDay' | 'segmentsPerMonth';
  limit: number;
  used: number;
  remaining: number;
  resetsAt: string;
}

/** What a send reserved, so it can be given back if the provider refuses the send. */
export interface QuotaReservation {
  tenantId: string;
  periods: string[];
  amount: number;
}

export interface QuotaService {
  /** Reserves `segments` against every quota of the tenant, or throws 429 OVER_LIMIT naming the one exhausted. */
  reserve(tenantId: string, segments: number): Promise<QuotaReservation>;
  release(reservation: QuotaReservation, segments?: number): Promise<void>;
  status(tenantId: string): Promise<QuotaStatus[]>;
}

/**
 * Quotas count what costs money: recipients x segments. Days and months begin in the configured
 * timezone. A reservation is made in the store before the provider call and released if the
 * provider refuses the send (not when the outcome is unknown: it may have been sent).
 */
export function createQuotaService(config: Config, repository: QuotaRepository, clock: Clock): QuotaService {
  function activeQuotas(tenantId: string): { name: QuotaStatus['name']; limit: number; period: Period }[] {
    const quota = config.tenants[tenantId]?.quota ?? {};
    const now = clock.now();
    const timezone = config.quotas.timezone;
    const out: { name: QuotaStatus['name']; limit: number; period: Period }[] = [];
    if (quota.segmentsPerDay)
      out.push({ name: 'segmentsPerDay', limit: quota.segmentsPerDay, period: dayPeriod(now, timezone) });
    if (quota.segmentsPerMonth)
      out.push({
        name: 'segmentsPerMonth',
        limit: quota.segmentsPerMonth,
        period: monthPeriod(now, timezone),
      });
    return out;
  }

  return {
    async reserve(tenantId, segments) {
      const quotas = activeQuotas(tenantId);
      const reservation = { tenantId, periods: quotas.map((q) => q.period.key), amount: segments };
      if (quotas.length === 0) return reservation;
      const { exceeded } = await repository.reserve(
        tenantId,
        quotas.map((q) => ({ period: q.period.key, limit: q.limit })),
        segments,
      );
      const hit = quotas.find((q) => q.period.key === exceeded);
      if (hit) {
        const used = (await repository.usage(tenantId, [hit.period.key])).get(hit.period.key) ?? 0;
        const resetsAt = new Date(hit.period.resetsAt).toISOString();
        throw new ApiError(
          'OVER_LIMIT',
          `quota: ${hit.name} is ${hit.limit} segments, ${used} used, this send needs ${segments}; resets at ${resetsAt}`,
          { 'Retry-After': String(Math.max(1, Math.ceil((hit.period.resetsAt - clock.now()) / 1000))) },
        );
      }
      return reservation;
    },

    async release(reservation, segments = reservation.amount) {
      await repository.release(reservation.tenantId, reservation.periods, segments);
    },

    async status(tenantId) {
      const quotas = activeQuotas(tenantId);
      const usage = await repository.usage(
        tenantId,
        quotas.map((q) => q.period.key),
      );
      return quotas.map(({ name, limit, period }) => {
        const used = usage.get(period.key) ?? 0;
        return {
          name,
          limit,
          used,
          remaining: Math.max(0, limit - used),
          resetsAt: new Date(period.resetsAt).toISOString(),
        };
      });
    },
  };
}
