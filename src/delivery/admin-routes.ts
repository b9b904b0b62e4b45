import { Router } from 'express';
import { requireScope } from '../auth';
import type { Clock } from '../clock';
import type { Config } from '../config';
import { ApiError, pageBlock, parsePage, sendSuccess } from '../http';
import type { OutboxRepository } from '../store';

/**
 * Admin view of webhook deliveries that gave up: list dead letters (all tenants or `?tenant=`),
 * put one back in line with its original webhook-id, and re-enable an endpoint that answered 410.
 */
export function webhookAdminRouter(
  config: Config,
  outbox: OutboxRepository,
  clock: Clock,
  notify: () => void,
): Router {
  const router = Router();
  const tenantParam = (value: unknown): string => {
    if (typeof value !== 'string' || !Object.hasOwn(config.tenants, value)) {
      throw new ApiError('NOT_FOUND', `tenant: no tenant '${String(value).slice(0, 64)}'`);
    }
    return value;
  };

  router.get('/v1/admin/webhooks/dead-letters', requireScope('admin'), async (req, res) => {
    const page = parsePage(req.query.page);
    const tenant = req.query.tenant === undefined ? undefined : tenantParam(req.query.tenant);
    const { items, total } = await outbox.listDeadLetters(tenant, page);
    sendSuccess(res, 200, items, pageBlock(page, total));
  });

  router.post('/v1/admin/webhooks/dead-letters/:id/replay', requireScope('admin'), async (req, res) => {
    const raw = String(req.params.id);
    if (!/^\d{1,15}$/.test(raw))
      throw new ApiError('FIELD_INVALID', `id: expected a dead letter id, got '${raw.slice(0, 20)}'`);
    const replayed = await outbox.replay(Number(raw), new Date(clock.now()).toISOString());
    if (!replayed) throw new ApiError('NOT_FOUND', `id: no dead letter ${raw}`);
    notify();
    sendSuccess(res, 200, { id: Number(raw), state: 'pending' });
  });

  router.post('/v1/admin/webhooks/:tenant/enable', requireScope('admin'), async (req, res) => {
    const tenant = tenantParam(req.params.tenant);
    const webhook = config.tenants[tenant]?.webhook;
    if (!webhook) throw new ApiError('NOT_FOUND', `tenant: '${tenant}' has no webhook configured`);
    const wasDisabled = await outbox.enableEndpoint(tenant, webhook.url);
    sendSuccess(res, 200, { tenant, enabled: true, wasDisabled });
  });

  return router;
}
