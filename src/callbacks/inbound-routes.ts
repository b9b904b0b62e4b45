import { z } from 'zod';
import { identityOf, readScopeOf } from '../auth';
import {
  jsonResponse,
  pageBlock,
  pageQuery,
  parsePage,
  sendSuccess,
  successSchema,
  type RouteDefinition,
} from '../http';
import type { InboundRepository } from '../store';

const inboundItemSchema = z
  .object({
    id: z.string(),
    from: z.string(),
    text: z.string(),
    receivedAt: z.string(),
    replyTo: z.string().nullable(),
    createdAt: z.string(),
  })
  .meta({ id: 'Inbound' });

/** GET /v1/inbound?page=N: replies and inbound SMS routed to this tenant, newest first, 25 a page. */
export function inboundRoutes(repository: InboundRepository): RouteDefinition[] {
  return [
    {
      method: 'get',
      path: '/v1/inbound',
      access: 'sms:read',
      summary: 'Replies and inbound SMS (sms:read: replies to own messages; sms:read:all: the tenant’s)',
      tags: ['inbound'],
      request: { query: pageQuery },
      responses: { 200: jsonResponse(successSchema(z.array(inboundItemSchema), true)) },
      handler: async (req, res) => {
        const page = parsePage(req.query.page);
        const { tenantId, subject } = readScopeOf(identityOf(req));
        const { items, total } = await repository.listForTenant(tenantId, page, subject);
        const data = items.map(({ id, sender, text, receivedAt, replyTo, createdAt }) => ({
          id,
          from: sender,
          text,
          receivedAt,
          replyTo,
          createdAt,
        }));
        sendSuccess(res, 200, data, pageBlock(page, total));
      },
    },
  ];
}
