import type { RequestHandler } from 'express';
import { z } from 'zod';
import { identityOf, type Identity } from '../auth';
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
import type { MessageRepository } from '../store';
import { messageDetailSchema, publicMessageSchema, sendHeadersSchema, sendResultSchema } from './contract';
import { toPublicMessage, type SendOptions, type SendResult } from './send';
import { parseSendRequest, sendRequestSchema } from './validation';

export interface MessagesRoutesDeps {
  sendMessages: (identity: Identity, body: unknown, options?: SendOptions) => Promise<SendResult>;
  repository: MessageRepository;
  /** Idempotency-Key handling for the send (see idempotency.ts). */
  idempotent: RequestHandler;
}

/** Before the body is read: a token that may send nothing at all is refused as any scoped route refuses. */
const requireSendScope: RequestHandler = (req, _res, next) => {
  const { scopes } = identityOf(req);
  if (!scopes.includes('sms:send') && !scopes.includes('sms:send:template'))
    throw new ApiError('FORBIDDEN', "scope: this route needs 'sms:send' or 'sms:send:template'");
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
      // sms:send, or sms:send:template for templates only: the send use case applies the text rule.
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
      middleware: [requireSendScope, requireJson, idempotent],
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
      summary: "This tenant's messages, newest first",
      tags: ['messages'],
      request: { query: pageQuery },
      responses: { 200: jsonResponse(successSchema(z.array(publicMessageSchema), true)) },
      handler: async (req, res) => {
        const page = parsePage(req.query.page);
        const { items, total } = await repository.listForTenant(identityOf(req).tenantId, page);
        sendSuccess(res, 200, items.map(toPublicMessage), pageBlock(page, total));
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
        const message = await repository.findForTenant(identityOf(req).tenantId, id);
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
