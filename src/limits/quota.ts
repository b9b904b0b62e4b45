import { hash } from 'node:crypto';
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
  /** The end user's share, when its tenant has perUser quotas: its counter key and periods. */
  user?: { key: string; periods: string[] };
}

export interface QuotaService {
  /**
   * Reserves `segments` (and `credits`) against every quota of the tenant, and with `endUser`
   * against that user's segment quotas (tenants.<id>.perUser.quota) first, or throws 429
   * OVER_LIMIT naming the one exhausted.
   */
  reserve(
    tenantId: string,
    segments: number,
    options?: { credits?: number; endUser?: string },
  ): Promise<QuotaReservation>;
  /** Gives back `segments` (default all), and the same share of the credits. */
  release(reservation: QuotaReservation, segments?: number): Promise<void>;
  /** The tenant's quotas, or with `endUser` that user's own. */
  status(tenantId: string, endUser?: string): Promise<QuotaStatus[]>;
}

/**
 * An end user's counters live beside the tenants' in the same table, under a key no tenant id can
 * be (tenant ids have no ':'), fixed in length whatever the sub: `u:` + base64url(sha256).
 */
const userKeyOf = (tenantId: string, endUser: string) =>
  `u:${hash('sha256', `${tenantId}\n${endUser}`, 'base64url')}`;

/** Credits are kept in hundredths, so the counters stay integers. */
const CENTS = 100;
const isCredit = (name: QuotaName) => name.startsWith('credits');

interface ActiveQuota {
  name: QuotaName;
  /** Segments, or hundredths of credits. */
  limit: number;
  period: Period;
}

/**
 * Quotas count what costs money: recipients x segments, and optionally provider credits. Days and
 * months begin in the configured timezone. A reservation is made in the store before the provider
 * call and released if the provider refuses the send (not when the outcome is unknown: it may
 * have been sent).
 */
export function createQuotaService(config: Config, repository: QuotaRepository, clock: Clock): QuotaService {
  function activeQuotas(tenantId: string, perUser = false): ActiveQuota[] {
    const tenant = config.tenants[tenantId];
    const now = clock.now();
    const timezone = config.quotas.timezone;
    const out: ActiveQuota[] = [];
    const segments = (perUser ? tenant?.perUser.quota : tenant?.quota) ?? {};
    if (segments.segmentsPerDay)
      out.push({ name: 'segmentsPerDay', limit: segments.segmentsPerDay, period: dayPeriod(now, timezone) });
    if (segments.segmentsPerMonth)
      out.push({
        name: 'segmentsPerMonth',
        limit: segments.segmentsPerMonth,
        period: monthPeriod(now, timezone),
      });
    if (perUser) return out;
    const quota = tenant?.quota ?? {};
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

  /** Reserves on one counter (a tenant's or a user's), or throws 429 naming the quota exhausted. */
  async function reserveOn(
    key: string,
    quotas: ActiveQuota[],
    segments: number,
    centiCredits: number,
    whose: string,
  ): Promise<void> {
    if (quotas.length === 0) return;
    const { exceeded } = await repository.reserve(
      key,
      quotas.map((q) => ({
        period: q.period.key,
        limit: q.limit,
        ...(isCredit(q.name) ? { amount: centiCredits } : {}),
      })),
      segments,
    );
    const hit = quotas.find((q) => q.period.key === exceeded);
    if (hit) {
      const used = (await repository.usage(key, [hit.period.key])).get(hit.period.key) ?? 0;
      const resetsAt = new Date(hit.period.resetsAt).toISOString();
      const [unit, scale, needs] = isCredit(hit.name)
        ? ['credits', CENTS, centiCredits / CENTS]
        : ['segments', 1, segments];
      throw new ApiError(
        'OVER_LIMIT',
        `quota: ${whose}${hit.name} is ${hit.limit / scale} ${unit}, ${used / scale} used, this send needs ${needs}; resets at ${resetsAt}`,
        { 'Retry-After': String(Math.max(1, Math.ceil((hit.period.resetsAt - clock.now()) / 1000))) },
      );
    }
  }

  return {
    async reserve(tenantId, segments, { credits = 0, endUser } = {}) {
      const quotas = activeQuotas(tenantId);
      const centiCredits = Math.round(credits * CENTS);
      const creditPeriods = quotas.filter((q) => isCredit(q.name)).map((q) => q.period.key);
      const reservation: QuotaReservation = {
        tenantId,
        periods: quotas.filter((q) => !isCredit(q.name)).map((q) => q.period.key),
        amount: segments,
        ...(creditPeriods.length > 0 ? { creditPeriods, centiCredits } : {}),
      };
      const userQuotas = endUser === undefined ? [] : activeQuotas(tenantId, true);
      if (endUser !== undefined && userQuotas.length > 0) {
        const key = userKeyOf(tenantId, endUser);
        // The user's own first; if the tenant's then refuses, the user's is given back.
        await reserveOn(key, userQuotas, segments, 0, "this user's ");
        reservation.user = { key, periods: userQuotas.map((q) => q.period.key) };
      }
      try {
        await reserveOn(tenantId, quotas, segments, centiCredits, '');
      } catch (error) {
        if (reservation.user)
          await repository.release(reservation.user.key, reservation.user.periods, segments);
        throw error;
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
      if (reservation.user)
        await repository.release(reservation.user.key, reservation.user.periods, segments);
    },

    async status(tenantId, endUser) {
      const quotas = activeQuotas(tenantId, endUser !== undefined);
      const usage = await repository.usage(
        endUser === undefined ? tenantId : userKeyOf(tenantId, endUser),
        quotas.map((q) => q.period.key),
      );
      return quotas.map(({ name, limit: stored, period }) => {
        const scale = isCredit(name) ? CENTS : 1;
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
