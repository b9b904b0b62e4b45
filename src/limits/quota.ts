import type { Clock } from '../clock';
import type { Config } from '../config';
import { ApiError } from '../http';
import type { QuotaRepository } from '../store';
import { dayPeriod, monthPeriod, type Period } from './periods';

export type QuotaName = 'segmentsPerDay' | 'segmentsPerMonth' | 'creditsPerDay' | 'creditsPerMonth';

export interface QuotaStatus {
  /** Segment quotas count segments; credit quotas count provider credits (to 0.01). */
  name: QuotaName;
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
  /** Credit quotas: their periods and the hundredths of credits reserved in them. */
  creditPeriods?: string[];
  centiCredits?: number;
}

export interface QuotaService {
  /**
   * Reserves `segments` (and `credits`) against every quota of the tenant, or throws 429 OVER_LIMIT
   * naming the one exhausted.
   */
  reserve(tenantId: string, segments: number, credits?: number): Promise<QuotaReservation>;
  /** Gives back `segments` (default all), and the same share of the credits. */
  release(reservation: QuotaReservation, segments?: number): Promise<void>;
  status(tenantId: string): Promise<QuotaStatus[]>;
}

/**
 * Quotas count what costs money: recipients x segments. Days and months begin in the configured
 * timezone. A reservation is made in the store before the provider call and released if the
 * provider refuses the send (not when the outcome is unknown: it may have been sent).
 */
export function createQuotaService(config: Config, repository: QuotaRepository, clock: Clock): QuotaService {
  /** Credits are kept in hundredths, so the counters stay integers. */
  const CENTS = 100;
  function activeQuotas(tenantId: string): { name: QuotaName; limit: number; period: Period }[] {
    const quota = config.tenants[tenantId]?.quota ?? {};
    const now = clock.now();
    const timezone = config.quotas.timezone;
    const out: { name: QuotaName; limit: number; period: Period }[] = [];
    if (quota.segmentsPerDay)
      out.push({ name: 'segmentsPerDay', limit: quota.segmentsPerDay, period: dayPeriod(now, timezone) });
    if (quota.segmentsPerMonth)
      out.push({
        name: 'segmentsPerMonth',
        limit: quota.segmentsPerMonth,
        period: monthPeriod(now, timezone),
      });
    const credit = (p: Period): Period => ({ ...p, key: `credits:${p.key}` });
    if (quota.creditsPerDay)
      out.push({
        name: 'creditsPerDay',
        limit: Math.round(quota.creditsPerDay * CENTS),
        period: credit(dayPeriod(now, timezone)),
      });
    if (quota.creditsPerMonth)
      out.push({
        name: 'creditsPerMonth',
        limit: Math.round(quota.creditsPerMonth * CENTS),
        period: credit(monthPeriod(now, timezone)),
      });
    return out;
  }

  return {
    async reserve(tenantId, segments, credits = 0) {
      const quotas = activeQuotas(tenantId);
      const isCredit = (name: QuotaName) => name.startsWith('credits');
      const centiCredits = Math.round(credits * CENTS);
      const creditPeriods = quotas.filter((q) => isCredit(q.name)).map((q) => q.period.key);
      const reservation: QuotaReservation = {
        tenantId,
        periods: quotas.filter((q) => !isCredit(q.name)).map((q) => q.period.key),
        amount: segments,
        ...(creditPeriods.length > 0 ? { creditPeriods, centiCredits } : {}),
      };
      if (quotas.length === 0) return reservation;
      const { exceeded } = await repository.reserve(
        tenantId,
        quotas.map((q) => ({
          period: q.period.key,
          limit: q.limit,
          ...(isCredit(q.name) ? { amount: centiCredits } : {}),
        })),
        segments,
      );
      const hit = quotas.find((q) => q.period.key === exceeded);
      if (hit) {
        const used = (await repository.usage(tenantId, [hit.period.key])).get(hit.period.key) ?? 0;
        const resetsAt = new Date(hit.period.resetsAt).toISOString();
        const [unit, scale, needs] = isCredit(hit.name)
          ? ['credits', CENTS, centiCredits / CENTS]
          : ['segments', 1, segments];
        throw new ApiError(
          'OVER_LIMIT',
          `quota: ${hit.name} is ${hit.limit / scale} ${unit}, ${used / scale} used, this send needs ${needs}; resets at ${resetsAt}`,
          { 'Retry-After': String(Math.max(1, Math.ceil((hit.period.resetsAt - clock.now()) / 1000))) },
        );
      }
      return reservation;
    },

    async release(reservation, segments = reservation.amount) {
      await repository.release(reservation.tenantId, reservation.periods, segments);
      const { creditPeriods, centiCredits } = reservation;
      if (creditPeriods && centiCredits && reservation.amount > 0) {
        // The same share of the credits (exact when the recipients' countries cost the same).
        const share = Math.round(
          (centiCredits * Math.min(segments, reservation.amount)) / reservation.amount,
        );
        await repository.release(reservation.tenantId, creditPeriods, share);
      }
    },

    async status(tenantId) {
      const quotas = activeQuotas(tenantId);
      const usage = await repository.usage(
        tenantId,
        quotas.map((q) => q.period.key),
      );
      return quotas.map(({ name, limit: stored, period }) => {
        const scale = name.startsWith('credits') ? CENTS : 1;
        const used = (usage.get(period.key) ?? 0) / scale;
        const limit = stored / scale;
        return {
          name,
          limit,
          used,
          remaining: Math.max(0, Math.round((limit - used) * CENTS) / CENTS),
          resetsAt: new Date(period.resetsAt).toISOString(),
        };
      });
    },
  };
}
