import { Router } from 'express';
import { z } from 'zod';
import { requireScope } from '../auth';
import type { Clock } from '../clock';
import type { Config } from '../config';
import { ApiError, pageBlock, parsePage, requireJson, sendSuccess } from '../http';
import type { InboundRecord, InboundRepository, StoredEvent } from '../store';

const assignSchema = z.object({ tenant: z.string() });

function toAdminInbound(record: InboundRecord) {
  return {
    id: record.id,
    tenantId: record.tenantId,
    from: record.sender,
    text: record.text,
    receivedAt: record.receivedAt,
    replyTo: record.replyTo,
    routedBy: record.routedBy,
    originalMessageId: record.originalMessageId,
    customString: record.customString,
    createdAt: record.createdAt,
  };
}

/**
 * Inbound messages no tenant has, for operators: replies naming a message the gateway could not
 * place (`held`: never routed by keyword or default, which could hand one tenant's conversation
 * to another) and texts no rule routed (`none`). An admin assigns one to a tenant, which then
 * gets it as any other: in GET /v1/inbound and as a `message.inbound` event.
 */
export function inboundAdminRouter(
  config: Config,
  repository: InboundRepository,
  clock: Clock,
  onEvents: (events: StoredEvent[]) => void,
): Router {
  const router = Router();

  router.get('/v1/admin/inbound/unrouted', requireScope('admin'), async (req, res) => {
    const page = parsePage(req.query.page);
    const { items, total } = await repository.listUnrouted(page);
    sendSuccess(res, 200, items.map(toAdminInbound), pageBlock(page, total));
  });

  router.post('/v1/admin/inbound/:id/assign', requireScope('admin'), requireJson, async (req, res) => {
    const id = String(req.params.id);
    const body = assignSchema.safeParse(req.body);
    if (!body.success) throw new ApiError('FIELD_EMPTY', 'tenant: required, the tenant to route it to');
    const { tenant } = body.data;
    if (!Object.hasOwn(config.tenants, tenant)) {
      throw new ApiError('FIELD_INVALID', `tenant: no tenant '${tenant.slice(0, 64)}'`);
    }
    const result = await repository.assign(id, tenant, new Date(clock.now()).toISOString());
    if (result.outcome !== 'assigned') {
      throw result.outcome === 'not_found'
        ? new ApiError('NOT_FOUND', `id: no inbound message '${id.slice(0, 64)}'`)
        : new ApiError('CONFLICT', `id: inbound message '${id.slice(0, 64)}' is already routed`);
    }
    onEvents(result.events);
    sendSuccess(res, 200, toAdminInbound(result.record));
  });

  return router;
}
