import { z } from 'zod';
import { identityOf } from '../auth';
import type { Config } from '../config';
import { jsonResponse, sendSuccess, success, successSchema, type RouteDefinition } from '../http';
import type { QuotaService } from './quota';
import type { TenantRateLimit } from './rate-limit';

const rateLimitSchema = z.object({
  requests: z.number().int().meta({ description: 'Requests allowed per window, over all /v1 routes' }),
  windowSec: z.number().int(),
  used: z.number().int().min(0).nullable().meta({
    description:
      'Requests counted in the current window (null while Redis is unreachable); once it is spent, the refusals answered before the limiter are not counted',
  }),
  remaining: z.number().int().min(0).nullable(),
  resetsAt: z.string().nullable().meta({
    description: 'When the current window ends (null when no window is open or Redis is unreachable)',
  }),
});

const quotasSchema = z.array(
  z.object({
    name: z.enum(['segmentsPerDay', 'segmentsPerMonth', 'creditsPerDay', 'creditsPerMonth']).meta({
      description: 'Segment quotas count segments; credit quotas provider credits (to 0.01)',
    }),
    limit: z.number(),
    used: z.number(),
    remaining: z.number(),
    resetsAt: z.string(),
  }),
);

const usageSchema = z
  .object({
    tenant: z.string(),
    rateLimit: rateLimitSchema,
    quotas: quotasSchema,
  })
  .meta({ id: 'Usage' });

const ownUsageSchema = usageSchema
  .extend({
    user: z
      .object({
        subject: z.string(),
        rateLimit: rateLimitSchema.nullable().meta({ description: 'null: no per-user rate limit' }),
        quotas: quotasSchema,
      })
      .nullable()
      .meta({
        description:
          "An end user's own limits inside the tenant's (tenants.<id>.perUser); null for a token without sub or with sms:read:all",
      }),
  })
  .meta({ id: 'OwnUsage' });

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
      summary: "This tenant's rate limit and quotas, and the calling end user's own",
      tags: ['limits'],
      responses: { 200: jsonResponse(successSchema(ownUsageSchema)) },
      handler: async (req, res) => {
        const { tenantId, endUser } = identityOf(req);
        const tenant = await usageOf(quotas, rateLimitOf, tenantId);
        const user =
          endUser === undefined
            ? null
            : {
                subject: endUser,
                rateLimit: (await rateLimitOf(tenantId, endUser)) ?? null,
                quotas: await quotas.status(tenantId, endUser),
              };
        sendSuccess(res, 200, { ...tenant, user });
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
