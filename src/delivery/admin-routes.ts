import { z } from 'zod';
import type { Clock } from '../clock';
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
  knownTenant,
  type RouteDefinition,
} from '../http';
import type { OutboxRepository } from '../store';

const deadLetterSchema = z
  .object({
    id: z.number().int(),
    eventId: z.string(),
    tenantId: z.string(),
    type: z.string(),
    attempts: z.number().int(),
    lastStatus: z.number().int().nullable(),
    lastError: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'DeadLetter' });

const deadLetterId = z.object({
  id: z.string().regex(/^\d{1,15}$/, {
    error: (issue) => `expected a dead letter id, got '${String(issue.input).slice(0, 20)}'`,
  }),
});

/**
 * Admin view of webhook deliveries that gave up: list dead letters (all tenants or `?tenant=`),
 * put one back in line with its original webhook-id, and re-enable an endpoint that answered 410.
 */
export function webhookAdminRoutes(
  config: Config,
  outbox: OutboxRepository,
  clock: Clock,
  notify: () => void,
): RouteDefinition[] {
  return [
    {
      method: 'get',
      path: '/v1/admin/webhooks/dead-letters',
      access: 'admin',
      summary: 'Webhook deliveries that gave up (admin)',
      tags: ['admin'],
      request: { query: pageQuery.extend({ tenant: z.string().optional() }) },
      responses: { 200: jsonResponse(successSchema(z.array(deadLetterSchema), true)) },
      handler: async (req, res) => {
        const page = parsePage(req.query.page);
        const tenant = tenantFilter(config.tenants, req.query.tenant);
        const { items, total } = await outbox.listDeadLetters(tenant, page);
        sendSuccess(res, 200, items, pageBlock(page, total));
      },
    },
    {
      method: 'post',
      path: '/v1/admin/webhooks/dead-letters/:id/replay',
      access: 'admin',
      summary: 'Send a dead letter again, same webhook-id (admin)',
      tags: ['admin'],
      request: { params: deadLetterId },
      responses: {
        200: jsonResponse(successSchema(z.object({ id: z.number().int(), state: z.literal('pending') }))),
      },
      handler: async (req, res) => {
        const raw = String(req.params.id);
        const replayed = await outbox.replay(Number(raw), new Date(clock.now()).toISOString());
        if (!replayed) throw new ApiError('NOT_FOUND', `id: no dead letter ${raw}`);
        notify();
        sendSuccess(res, 200, { id: Number(raw), state: 'pending' });
      },
    },
    {
      method: 'post',
      path: '/v1/admin/webhooks/:tenant/enable',
      access: 'admin',
      summary: 'Re-enable an endpoint that answered 410 (admin)',
      tags: ['admin'],
      request: { params: z.object({ tenant: z.string() }) },
      responses: {
        200: jsonResponse(
          successSchema(z.object({ tenant: z.string(), enabled: z.boolean(), wasDisabled: z.boolean() })),
        ),
      },
      handler: async (req, res) => {
        const tenant = knownTenant(config.tenants, req.params.tenant);
        const webhook = config.tenants[tenant]?.webhook;
        if (!webhook) throw new ApiError('NOT_FOUND', `tenant: '${tenant}' has no webhook configured`);
        const wasDisabled = await outbox.enableEndpoint(tenant, webhook.url);
        sendSuccess(res, 200, { tenant, enabled: true, wasDisabled });
      },
    },
  ];
}
