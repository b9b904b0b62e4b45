import { Router } from 'express';
import { identityOf, requireScope } from '../auth';
import type { Config } from '../config';
import { sendSuccess } from '../http/envelope';
import type { QuotaService } from './quota';
import type { TenantRateLimit } from './rate-limit';

type RateLimitStatusOf = TenantRateLimit['status'];

async function usageOf(quotas: QuotaService, rateLimitOf: RateLimitStatusOf, tenantId: string) {
  const [rateLimit, quotaStatus] = await Promise.all([rateLimitOf(tenantId), quotas.status(tenantId)]);
  return { tenant: tenantId, rateLimit, quotas: quotaStatus };
}

/** GET /v1/usage: the caller's own limits and usage. GET /v1/admin/usage: every tenant's. */
export function usageRouter(config: Config, quotas: QuotaService, rateLimitOf: RateLimitStatusOf): Router {
  const router = Router();
  router.get('/v1/usage', async (req, res) => {
    sendSuccess(res, 200, await usageOf(quotas, rateLimitOf, identityOf(req).tenantId));
  });
  router.get('/v1/admin/usage', requireScope('admin'), async (_req, res) => {
    sendSuccess(
      res,
      200,
      await Promise.all(Object.keys(config.tenants).map((id) => usageOf(quotas, rateLimitOf, id))),
    );
  });
  return router;
}
