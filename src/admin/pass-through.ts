import { z } from 'zod';
import {
  ApiError,
  jsonResponse,
  pageQuery,
  parsePage,
  sendSuccess,
  type PageBlock,
  type RouteDefinition,
} from '../http';
import type { UpstreamBudget } from '../scheduler';
import { PASS_THROUGH_READS, type ProviderRead, type UpstreamClient } from '../upstream';

/** The budget queue admins' provider reads wait in (weight 1, beside the tenants'). */
export const ADMIN_QUEUE = '_admin';

/**
 * GET /v1/admin/upstream/:endpoint?page=N — the provider's own read calls for operators, through
 * the upstream budget like every call: the page is forwarded and the provider's body (and its page
 * block, as `page`) returned unchanged. The account is shared, so this is admin-only: it shows every
 * tenant's traffic. Only the allowlisted reads; never a write.
 */
export function upstreamPassThroughRoutes(
  budget: UpstreamBudget,
  upstream: UpstreamClient,
): RouteDefinition[] {
  return [
    {
      method: 'get',
      path: '/v1/admin/upstream/:endpoint',
      access: 'admin',
      summary: "The provider's own reads, through the budget, body and page block unchanged (admin)",
      tags: ['admin'],
      request: {
        // An endpoint outside the list is NOT_FOUND (checked below), like any unknown path.
        params: z.object({ endpoint: z.string().meta({ description: PASS_THROUGH_READS.join(', ') }) }),
        query: pageQuery.extend({
          type: z.string().optional().meta({ description: 'get-responses: `mms`, else sms' }),
          message_id: z.string().optional().meta({ description: 'get-sms: required' }),
        }),
      },
      responses: {
        200: jsonResponse(
          z.object({
            error: z.object({ code: z.literal('SUCCESS'), description: z.string() }),
            data: z.unknown(),
            page: z.unknown().optional(),
          }),
        ),
      },
      handler: async (req, res) => {
        const endpoint = String(req.params.endpoint);
        if (!(PASS_THROUGH_READS as readonly string[]).includes(endpoint)) {
          throw new ApiError(
            'NOT_FOUND',
            `endpoint: '${endpoint.slice(0, 40)}' is not one of ${PASS_THROUGH_READS.join(', ')}`,
          );
        }
        const query: Record<string, string> = {};
        if (req.query.page !== undefined) query.page = String(parsePage(req.query.page).number);
        if (endpoint === 'get-responses') query.type = req.query.type === 'mms' ? 'mms' : 'sms';
        if (endpoint === 'get-sms') {
          const id = req.query.message_id;
          if (typeof id !== 'string' || !/^[A-Za-z0-9-]{1,64}$/.test(id))
            throw new ApiError('FIELD_EMPTY', 'message_id: required for get-sms');
          query.message_id = id;
        }
        const { body } = await budget.run(ADMIN_QUEUE, (gate) =>
          upstream.read(endpoint as ProviderRead, query, gate),
        );
        const data = body.data as { page?: PageBlock } | undefined;
        sendSuccess(res, 200, body, data && typeof data === 'object' && data.page ? data.page : undefined);
      },
    },
  ];
}
