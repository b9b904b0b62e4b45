import { createHash } from 'node:crypto';
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
  /** The end user's share, when its tenant has perUser quotas: its counter key and periods. */
  user?: { key: string; periods: string[] };
}

export interface QuotaService {
  /**
   * Reserves `segments` against every quota of the tenant, and with `endUser` against that
   * user's (tenants.<id>.perUser.quota) first, or throws 429 OVER_LIMIT naming the one exhausted.
   */
  reserve(tenantId: string, segments: number, endUser?: string): Promise<QuotaReservation>;
  release(reservation: QuotaReservation, segments?: number): Promise<void>;
  /** The tenant's quotas, or with `endUser` that user's own. */
  status(tenantId: string, endUser?: string): Promise<QuotaStatus[]>;
}

/**
 * An end user's counters live beside the tenants' in the same table, under a key no tenant id can
 * be (tenant ids have no ':'), fixed in length whatever the sub: `u:` + base64url(sha256).
 */
const userKeyOf = (tenantId: string, endUser: string) =>
  `u:${createHash('sha256').update(`${tenantId}\n${endUser}`).digest('base64url')}`;

/**
 * Quotas count what costs money: recipients x segments. Days and months begin in the configured
 * timezone. A reservation is made in the store before the provider call and released if the
 * provider refuses the send (not when the outcome is unknown: it may have been sent).
 */
export function createQuotaService(config: Config, repository: QuotaRepository, clock: Clock): QuotaService {
  function activeQuotas(
    tenantId: string,
    perUser = false,
  ): { name: QuotaStatus['name']; limit: number; period: Period }[] {
    const tenant = config.tenants[tenantId];
    const quota = (perUser ? tenant?.perUser.quota : tenant?.quota) ?? {};
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

  /** Reserves on one counter (a tenant's or a user's), or throws 429 naming the quota exhausted. */
  async function reserveOn(
    key: string,
    quotas: ReturnType<typeof activeQuotas>,
    segments: number,
    whose: string,
  ): Promise<void> {
    if (quotas.length === 0) return;
    const { exceeded } = await repository.reserve(
      key,
      quotas.map((q) => ({ period: q.period.key, limit: q.limit })),
      segments,
    );
    const hit = quotas.find((q) => q.period.key === exceeded);
    if (hit) {
      const used = (await repository.usage(key, [hit.period.key])).get(hit.period.key) ?? 0;
      const resetsAt = new Date(hit.period.resetsAt).toISOString();
      throw new ApiError(
        'OVER_LIMIT',
        `quota: ${whose}${hit.name} is ${hit.limit} segments, ${used} used, this send needs ${segments}; resets at ${resetsAt}`,
        { 'Retry-After': String(Math.max(1, Math.ceil((hit.period.resetsAt - clock.now()) / 1000))) },
      );
    }
  }

  return {
    async reserve(tenantId, segments, endUser) {
      const quotas = activeQuotas(tenantId);
      const reservation: QuotaReservation = {
        tenantId,
        periods: quotas.map((q) => q.period.key),
        amount: segments,
      };
      const userQuotas = endUser === undefined ? [] : activeQuotas(tenantId, true);
      if (endUser !== undefined && userQuotas.length > 0) {
        const key = userKeyOf(tenantId, endUser);
        // The user's own first; if the tenant's then refuses, the user's is given back.
        await reserveOn(key, userQuotas, segments, "this user's ");
        reservation.user = { key, periods: userQuotas.map((q) => q.period.key) };
      }
      try {
        await reserveOn(tenantId, quotas, segments, '');
      } catch (error) {
        if (reservation.user)
          await repository.release(reservation.user.key, reservation.user.periods, segments);
        throw error;
      }
      return reservation;
    },

    async release(reservation, segments = reservation.amount) {
      await repository.release(reservation.tenantId, reservation.periods, segments);
      if (reservation.user)
        await repository.release(reservation.user.key, reservation.user.periods, segments);
    },

    async status(tenantId, endUser) {
      const quotas = activeQuotas(tenantId, endUser !== undefined);
      const usage = await repository.usage(
        endUser === undefined ? tenantId : userKeyOf(tenantId, endUser),
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
