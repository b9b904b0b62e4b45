import type { RequestHandler } from 'express';
import { z } from 'zod';
import { identityOf, readScopeOf, type Identity } from '../auth';
import {
  ApiError,
  jsonResponse,
  PAGE_SIZE,
  pageBlock,
  pageQuery,
  parsePage,
  parseWith,
  requireJson,
  sendSuccess,
  successSchema,
  type RouteDefinition,
} from '../http';
import type { MessageRepository } from '../store';
import { messageDetailSchema, publicMessageSchema, sendHeadersSchema, sendResultSchema } from './contract';
import { toPublicMessage, type SendOptions, type SendResult } from './send';
import { SENDING_SCOPES } from './send-rules';
import { parseSendRequest, sendRequestSchema } from './validation';

/**
 * `?page=N` as the provider has it, or `?after=<message id>`: the 25 messages recorded before
 * that one (a keyset cursor, steady while new messages arrive; pass the last id of each answer).
 */
const listQuery = pageQuery.extend({
  after: z
    .string({ error: 'expected a message id' })
    .min(1, { error: 'expected a message id' })
    .max(64, { error: 'expected a message id of at most 64 characters' })
    .optional(),
});

export interface MessagesRoutesDeps {
  sendMessages: (identity: Identity, body: unknown, options?: SendOptions) => Promise<SendResult>;
  repository: MessageRepository;
  /** Idempotency-Key handling for the send (see idempotency.ts). */
  idempotent: RequestHandler;
}

/** The route needs one of the sending scopes; what each one allows is decided in the send use case. */
const requireSendingScope: RequestHandler = (req, _res, next) => {
  const { scopes } = identityOf(req);
  if (!SENDING_SCOPES.some((scope) => scopes.includes(scope)))
    throw new ApiError('FORBIDDEN', `scope: this route needs one of '${SENDING_SCOPES.join("', '")}'`);
  next();
};

export function messageRoutes({
  sendMessages,
  repository,
  idempotent,
}: MessagesRoutesDeps): RouteDefinition[] {
  return [
    {
      method: 'post',
      path: '/v1/messages',
      // Any sending scope; what each allows (recipients, free text or templates) is decided in the send use case.
      access: 'authenticated',
      summary:
        'Send one text or template to 1–1000 recipients (Idempotency-Key honoured; Prefer: respond-async → 202)',
      tags: ['messages'],
      request: {
        headers: sendHeadersSchema,
        body: { schema: sendRequestSchema, contentTypes: ['application/json'], parse: parseSendRequest },
      },
      responses: {
        201: jsonResponse(successSchema(sendResultSchema), 'Sent'),
        202: jsonResponse(successSchema(sendResultSchema), 'Queued durably'),
      },
      middleware: [requireSendingScope, requireJson, idempotent],
      handler: async (req, res) => {
        // RFC 7240: `Prefer: respond-async` → 202 once the send is committed to the durable queue.
        const async = /(^|[,\s])respond-async([,;\s]|$)/i.test(req.get('prefer') ?? '');
        const result = await sendMessages(identityOf(req), req.body, { async });
        if (async) res.set('Preference-Applied', 'respond-async');
        sendSuccess(res, async ? 202 : 201, result);
      },
    },
    {
      method: 'get',
      path: '/v1/messages',
      access: 'sms:read',
      summary:
        "The caller's messages (sms:read: its own; sms:read:all: the tenant's), newest first (?page=N, or ?after=<id> to read on past a message)",
      tags: ['messages'],
      request: { query: listQuery },
      responses: { 200: jsonResponse(successSchema(z.array(publicMessageSchema), true)) },
      handler: async (req, res) => {
        const { tenantId, subject } = readScopeOf(identityOf(req));
        const { after } = parseWith(listQuery, { page: req.query.page, after: req.query.after });
        if (after === undefined) {
          const page = parsePage(req.query.page);
          const { items, total } = await repository.listForTenant(tenantId, page, subject);
          sendSuccess(res, 200, items.map(toPublicMessage), pageBlock(page, total));
          return;
        }
        if (req.query.page !== undefined) {
          throw new ApiError('FIELD_INVALID', 'page: give either page or after, not both');
        }
        const found = await repository.listAfter(tenantId, after, PAGE_SIZE, subject);
        if (!found) throw new ApiError('NOT_FOUND', `after: no message '${after.slice(0, 64)}'`);
        // The page block numbers the page the first item is on, as ?page= would have.
        const number = Math.floor(found.newer / PAGE_SIZE) + 1;
        sendSuccess(res, 200, found.items.map(toPublicMessage), {
          count: Math.ceil(found.total / PAGE_SIZE),
          number,
        });
      },
    },
    {
      method: 'get',
      path: '/v1/messages/:id',
      access: 'sms:read',
      summary: 'One message with its status history',
      tags: ['messages'],
      request: { params: z.object({ id: z.string() }) },
      responses: { 200: jsonResponse(successSchema(messageDetailSchema)) },
      handler: async (req, res) => {
        const id = String(req.params.id);
        const { tenantId, subject } = readScopeOf(identityOf(req));
        const message = await repository.findForTenant(tenantId, id, subject);
        if (!message) throw new ApiError('NOT_FOUND', `message '${id.slice(0, 64)}' not found`);
        sendSuccess(res, 200, {
          ...toPublicMessage(message),
          text: message.text,
          providerMessageId: message.providerMessageId,
          history: message.history,
        });
      },
    },
  ];
}
