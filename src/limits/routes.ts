import { Router } from 'express';
import { identityOf, requireScope } from '../auth';
import type { Config } from '../config';
import { sendSuccess } from '../http/envelope';
import type { QuotaService } from './quota';

async function usageOf(config: Config, quotas: QuotaService, tenantId: string) {
  return {
    tenant: tenantId,
    rateLimit: config.tenants[tenantId]?.rateLimit,
    quotas: await quotas.status(tenantId),
  };
}

/** GET /v1/usage: the caller's own limits and usage. GET /v1/admin/usage: every tenant's. */
export function usageRouter(config: Config, quotas: QuotaService): Router {
  const router = Router();
  router.get('/v1/usage', async (req, res) => {
    sendSuccess(res, 200, await usageOf(config, quotas, identityOf(req).tenantId));
  });
  router.get('/v1/admin/usage', requireScope('admin'), async (_req, res) => {
    sendSuccess(
      res,
      200,
      await Promise.all(Object.keys(config.tenants).map((id) => usageOf(config, quotas, id))),
    );
  });
  return router;
}
