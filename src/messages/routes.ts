import { Router, type RequestHandler } from 'express';
import { identityOf, requireScope } from '../auth';
import { sendSuccess } from '../http/envelope';
import { ApiError } from '../http/errors';
import { requireJson } from '../http/content-type';
import { pageBlock, parsePage } from '../http/pagination';
import type { MessageRepository } from '../store';
import { toPublicMessage, type SendResult } from './send';
import type { Identity } from '../auth';

export interface MessagesRoutesDeps {
  sendMessages: (identity: Identity, body: unknown, options?: { async?: boolean }) => Promise<SendResult>;
  repository: MessageRepository;
  /** Idempotency-Key handling for the send (see idempotency.ts). */
  idempotent: RequestHandler;
}

export function messagesRouter({ sendMessages, repository, idempotent }: MessagesRoutesDeps): Router {
  const router = Router();

  router.post('/v1/messages', requireScope('sms:send'), requireJson, idempotent, async (req, res) => {
    // RFC 7240: `Prefer: respond-async` → 202 once the send is committed to the durable queue.
    const async = /(^|[,\s])respond-async([,;\s]|$)/i.test(req.get('prefer') ?? '');
    const result = await sendMessages(identityOf(req), req.body, { async });
    if (async) res.set('Preference-Applied', 'respond-async');
    sendSuccess(res, async ? 202 : 201, result);
  });

  router.get('/v1/messages', requireScope('sms:read'), async (req, res) => {
    const page = parsePage(req.query.page);
    const { items, total } = await repository.listForTenant(identityOf(req).tenantId, page);
    sendSuccess(res, 200, items.map(toPublicMessage), pageBlock(page, total));
  });

  router.get('/v1/messages/:id', requireScope('sms:read'), async (req, res) => {
    const id = String(req.params.id);
    const message = await repository.findForTenant(identityOf(req).tenantId, id);
    if (!message) throw new ApiError('NOT_FOUND', `message '${id.slice(0, 64)}' not found`);
    sendSuccess(res, 200, {
      ...toPublicMessage(message),
      text: message.text,
      providerMessageId: message.providerMessageId,
      history: message.history,
    });
  });

  return router;
}
