import { Router } from 'express';
import { identityOf, requireScope } from '../auth';
import { pageBlock, parsePage, sendSuccess } from '../http';
import type { InboundRepository } from '../store';

/** GET /v1/inbound?page=N: replies and inbound SMS routed to this tenant, newest first, 25 a page. */
export function inboundRouter(repository: InboundRepository): Router {
  const router = Router();
  router.get('/v1/inbound', requireScope('sms:read'), async (req, res) => {
    const page = parsePage(req.query.page);
    const { items, total } = await repository.listForTenant(identityOf(req).tenantId, page);
    const data = items.map(({ id, sender, text, receivedAt, replyTo, createdAt }) => ({
      id,
      from: sender,
      text,
      receivedAt,
      replyTo,
      createdAt,
    }));
    sendSuccess(res, 200, data, pageBlock(page, total));
  });
  return router;
}
