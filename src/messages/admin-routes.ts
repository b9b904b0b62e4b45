import { Router } from 'express';
import { requireScope } from '../auth';
import type { Config } from '../config';
import { ApiError, pageBlock, parsePage, sendSuccess } from '../http';
import { MESSAGE_STATUSES, type MessageRecord, type MessageRepository } from '../store';
import { toPublicMessage } from './send';

/** What operators see of a message: the tenant's view plus whose it is and the provider's id. */
function toAdminMessage(message: MessageRecord) {
  return {
    ...toPublicMessage(message),
    tenantId: message.tenantId,
    batchId: message.batchId,
    providerMessageId: message.providerMessageId,
    updatedAt: message.updatedAt,
  };
}

/**
 * GET /v1/admin/messages?status=&tenant=&page=N — every tenant's messages for operators, newest
 * first, 25 a page; above all the ones left `unknown` (a send whose outcome no delivery report
 * has settled), to be checked against the provider.
 */
export function messagesAdminRouter(config: Config, repository: MessageRepository): Router {
  const router = Router();
  const statusParam = (value: unknown): string | undefined => {
    if (value === undefined) return undefined;
    if (typeof value === 'string' && MESSAGE_STATUSES.includes(value)) return value;
    throw new ApiError(
      'FIELD_INVALID',
      `status: expected one of ${MESSAGE_STATUSES.join(', ')}, got '${String(value).slice(0, 20)}'`,
    );
  };
  const tenantParam = (value: unknown): string => {
    if (typeof value !== 'string' || !Object.hasOwn(config.tenants, value)) {
      throw new ApiError('NOT_FOUND', `tenant: no tenant '${String(value).slice(0, 64)}'`);
    }
    return value;
  };
  router.get('/v1/admin/messages', requireScope('admin'), async (req, res) => {
    const page = parsePage(req.query.page);
    const status = statusParam(req.query.status);
    const tenant = req.query.tenant === undefined ? undefined : tenantParam(req.query.tenant);
    const { items, total } = await repository.listAll({ status, tenantId: tenant }, page);
    sendSuccess(res, 200, items.map(toAdminMessage), pageBlock(page, total));
  });
  return router;
}
