import { z } from 'zod';
import type { Config } from '../config';
import {
  ApiError,
  jsonResponse,
  pageBlock,
  pageQuery,
  parsePage,
  sendSuccess,
  successSchema,
  tenantFilter,
  type RouteDefinition,
} from '../http';
import { MESSAGE_STATUSES, type MessageRecord, type MessageRepository } from '../store';
import { publicMessageSchema } from './contract';
import { toPublicMessage } from './send';

const adminMessageSchema = publicMessageSchema
  .extend({
    tenantId: z.string(),
    batchId: z.string(),
    providerMessageId: z.string().nullable(),
    updatedAt: z.string(),
  })
  .meta({ id: 'AdminMessage', description: "A message as operators see it: the tenant's view, whose it is" });

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
export function messageAdminRoutes(config: Config, repository: MessageRepository): RouteDefinition[] {
  const statusParam = (value: unknown): string | undefined => {
    if (value === undefined) return undefined;
    if (typeof value === 'string' && MESSAGE_STATUSES.includes(value)) return value;
    throw new ApiError(
      'FIELD_INVALID',
      `status: expected one of ${MESSAGE_STATUSES.join(', ')}, got '${(typeof value === 'string' ? value : JSON.stringify(value)).slice(0, 20)}'`,
    );
  };
  return [
    {
      method: 'get',
      path: '/v1/admin/messages',
      access: 'admin',
      summary: "Every tenant's messages, by status (e.g. the unknown ones) and tenant (admin)",
      tags: ['admin'],
      request: {
        query: pageQuery.extend({ status: z.string().optional(), tenant: z.string().optional() }),
      },
      responses: { 200: jsonResponse(successSchema(z.array(adminMessageSchema), true)) },
      handler: async (req, res) => {
        const page = parsePage(req.query.page);
        const status = statusParam(req.query.status);
        const tenant = tenantFilter(config.tenants, req.query.tenant);
        const { items, total } = await repository.listAll({ status, tenantId: tenant }, page);
        sendSuccess(res, 200, items.map(toAdminMessage), pageBlock(page, total));
      },
    },
  ];
}
