import { z } from 'zod';
import type { Clock } from '../clock';
import type { Config } from '../config';
import {
  ApiError,
  jsonResponse,
  pageBlock,
  pageQuery,
  parsePage,
  requireJson,
  sendSuccess,
  successSchema,
  type RouteDefinition,
} from '../http';
import type { InboundRecord, InboundRepository, StoredEvent } from '../store';

const assignSchema = z.object({ tenant: z.string() });

const nullableString = z.string().nullable();
const adminInboundSchema = z
  .object({
    id: z.string(),
    tenantId: nullableString,
    from: z.string(),
    text: z.string(),
    receivedAt: z.string(),
    replyTo: nullableString,
    routedBy: z.string().meta({
      description:
        '`held`: a reply naming a message the gateway could not place; `none`: no rule routed it; ' +
        '`operator`: assigned by an admin',
    }),
    originalMessageId: nullableString.meta({ description: "The provider's id of the message it replies to" }),
    customString: nullableString.meta({
      description: 'The custom_string the provider echoed (our batch id)',
    }),
    createdAt: z.string(),
  })
  .meta({ id: 'AdminInbound' });

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

/** The assign body: a missing tenant is FIELD_EMPTY, one we do not have FIELD_INVALID. */
function parseAssignment(config: Config) {
  return (body: unknown): z.infer<typeof assignSchema> => {
    const parsed = assignSchema.safeParse(body);
    if (!parsed.success) throw new ApiError('FIELD_EMPTY', 'tenant: required, the tenant to route it to');
    if (!Object.hasOwn(config.tenants, parsed.data.tenant)) {
      throw new ApiError('FIELD_INVALID', `tenant: no tenant '${parsed.data.tenant.slice(0, 64)}'`);
    }
    return parsed.data;
  };
}

/**
 * Inbound messages no tenant has, for operators: replies naming a message the gateway could not
 * place (`held`: never routed by keyword or default, which could hand one tenant's conversation
 * to another) and texts no rule routed (`none`). An admin assigns one to a tenant, which then
 * gets it as any other: in GET /v1/inbound and as a `message.inbound` event.
 */
export function inboundAdminRoutes(
  config: Config,
  repository: InboundRepository,
  clock: Clock,
  onEvents: (events: StoredEvent[]) => void,
): RouteDefinition[] {
  return [
    {
      method: 'get',
      path: '/v1/admin/inbound/unrouted',
      access: 'admin',
      summary: 'Inbound messages no tenant has: held replies and texts no rule routed (admin)',
      tags: ['admin'],
      request: { query: pageQuery },
      responses: { 200: jsonResponse(successSchema(z.array(adminInboundSchema), true)) },
      handler: async (req, res) => {
        const page = parsePage(req.query.page);
        const { items, total } = await repository.listUnrouted(page);
        sendSuccess(res, 200, items.map(toAdminInbound), pageBlock(page, total));
      },
    },
    {
      method: 'post',
      path: '/v1/admin/inbound/:id/assign',
      access: 'admin',
      summary: 'Route an unrouted inbound message to a tenant (admin)',
      tags: ['admin'],
      request: {
        params: z.object({ id: z.string() }),
        body: { schema: assignSchema, contentTypes: ['application/json'], parse: parseAssignment(config) },
      },
      responses: { 200: jsonResponse(successSchema(adminInboundSchema)) },
      middleware: [requireJson],
      handler: async (req, res) => {
        const id = String(req.params.id);
        const { tenant } = req.body as z.infer<typeof assignSchema>;
        const result = await repository.assign(id, tenant, new Date(clock.now()).toISOString());
        if (result.outcome !== 'assigned') {
          throw result.outcome === 'not_found'
            ? new ApiError('NOT_FOUND', `id: no inbound message '${id.slice(0, 64)}'`)
            : new ApiError('CONFLICT', `id: inbound message '${id.slice(0, 64)}' is already routed`);
        }
        onEvents(result.events);
        sendSuccess(res, 200, toAdminInbound(result.record));
      },
    },
  ];
}
