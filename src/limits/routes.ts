import { z } from 'zod';
import { identityOf } from '../auth';
import type { Config } from '../config';
import { jsonResponse, sendSuccess, success, successSchema, type RouteDefinition } from '../http';
import type { QuotaService } from './quota';
import type { TenantRateLimit } from './rate-limit';

const usageSchema = z
  .object({
    tenant: z.string(),
    rateLimit: z.object({
      requests: z.number().int().meta({ description: 'Requests allowed per window, over all /v1 routes' }),
      windowSec: z.number().int(),
      used: z
        .number()
        .int()
        .min(0)
        .nullable()
        .meta({ description: 'Requests counted in the current window (null while Redis is unreachable)' }),
      remaining: z.number().int().min(0).nullable(),
      resetsAt: z.string().nullable().meta({
        description: 'When the current window ends (null when no window is open or Redis is unreachable)',
      }),
    }),
    quotas: z.array(
      z.object({
        name: z.enum(['segmentsPerDay', 'segmentsPerMonth', 'creditsPerDay', 'creditsPerMonth']).meta({
          description: 'Segment quotas count segments; credit quotas provider credits (to 0.01)',
        }),
        limit: z.number(),
        used: z.number(),
        remaining: z.number(),
        resetsAt: z.string(),
      }),
    ),
  })
  .meta({ id: 'Usage' });

type RateLimitStatusOf = TenantRateLimit['status'];

/** The provider account as last read (shown to admins beside every tenant's usage). */
export interface AccountSummary {
  smsBalance: number | null;
  mmsBalance: number | null;
  checkedAt: string | null;
  low: boolean;
  lowBalanceThreshold: number | null;
}

const accountSchema = z
  .object({
    smsBalance: z.number().nullable().meta({ description: 'Provider SMS credits (null until first read)' }),
    mmsBalance: z.number().nullable(),
    checkedAt: z.string().nullable(),
    low: z
      .boolean()
      .meta({ description: 'Below account.lowBalanceThreshold (announced), not yet topped up' }),
    lowBalanceThreshold: z.number().nullable(),
  })
  .meta({ id: 'AccountBalance' });

async function usageOf(quotas: QuotaService, rateLimitOf: RateLimitStatusOf, tenantId: string) {
  const [rateLimit, quotaStatus] = await Promise.all([rateLimitOf(tenantId), quotas.status(tenantId)]);
  return { tenant: tenantId, rateLimit, quotas: quotaStatus };
}

/** GET /v1/usage: the caller's own limits and usage (any token). GET /v1/admin/usage: every tenant's. */
export function usageRoutes(
  config: Config,
  quotas: QuotaService,
  rateLimitOf: RateLimitStatusOf,
  accountOf?: () => Promise<AccountSummary>,
): RouteDefinition[] {
  return [
    {
      method: 'get',
      path: '/v1/usage',
      access: 'authenticated',
      summary: "This tenant's rate limit and quotas",
      tags: ['limits'],
      responses: { 200: jsonResponse(successSchema(usageSchema)) },
      handler: async (req, res) => {
        sendSuccess(res, 200, await usageOf(quotas, rateLimitOf, identityOf(req).tenantId));
      },
    },
    {
      method: 'get',
      path: '/v1/admin/usage',
      access: 'admin',
      summary: "Every tenant's usage, and the provider balance as `account` (admin)",
      tags: ['admin'],
      responses: {
        200: jsonResponse(successSchema(z.array(usageSchema)).extend({ account: accountSchema.optional() })),
      },
      handler: async (_req, res) => {
        const [tenants, account] = await Promise.all([
          Promise.all(Object.keys(config.tenants).map((id) => usageOf(quotas, rateLimitOf, id))),
          accountOf?.(),
        ]);
        // Beside `data` (a list of tenants, unchanged): the account is not a tenant.
        res.status(200).json({ ...success(tenants), ...(account ? { account } : {}) });
      },
    },
  ];
}

/** Every tenant's quota usage, for the metrics' gauges. */
export async function quotaUsage(config: Config, quotas: QuotaService) {
  const perTenant = await Promise.all(
    Object.keys(config.tenants).map(async (tenant) =>
      (await quotas.status(tenant)).map((q) => ({ tenant, quota: q.name, used: q.used, limit: q.limit })),
    ),
  );
  return perTenant.flat();
}
