// The Cellcast v3 API as the sandbox serves it under /api/v3: every endpoint behind the same
// guards (faults, APPKEY, throttle), every answer recorded.
import type { Express, NextFunction, Request, Response } from 'express';
import { account } from './account';
import type { CallbackScheduler } from './callbacks';
import { providerGuards } from './guards';
import { getResponses, inboundRead, inboundReadBulk } from './inbox';
import { getOptOut } from './opt-outs';
import { ProviderReply, fieldInvalid, recordCall, reply } from './reply';
import { bulkSend, getSms, sendSms, sendSmsTemplate } from './sending';
import type { SandboxState } from './state';
import { getTemplate } from './templates';

export function mountProviderRoutes(app: Express, state: SandboxState, callbacks: CallbackScheduler): void {
  const answer = (req: Request, res: Response, result: ProviderReply) => reply(state, req, res, result);

  app.use('/api/v3', ...providerGuards(state));
  app.post('/api/v3/send-sms', (req, res) => answer(req, res, sendSms(state, callbacks, req.body)));
  app.post('/api/v3/bulk-send-sms', (req, res) => {
    const result = bulkSend(state, callbacks, req.body);
    if (result instanceof ProviderReply) return answer(req, res, result);
    recordCall(state, req, 200, 'SUCCESS');
    res.status(200).json(result.map((envelope) => envelope.body()));
  });
  app.post('/api/v3/send-sms-template', (req, res) =>
    answer(req, res, sendSmsTemplate(state, callbacks, req.body)),
  );
  app.get('/api/v3/get-sms', (req, res) => answer(req, res, getSms(state, req.query.message_id)));
  app.get('/api/v3/get-responses', (req, res) => answer(req, res, getResponses(state, req.query.page)));
  app.post('/api/v3/inbound-read', (req, res) => answer(req, res, inboundRead(state, req.body)));
  app.post('/api/v3/inbound-read-bulk', (req, res) => answer(req, res, inboundReadBulk(state, req.body)));
  app.get('/api/v3/account', (req, res) => answer(req, res, account(state)));
  app.get('/api/v3/get-optout', (req, res) => answer(req, res, getOptOut(state, req.query)));
  app.get('/api/v3/get-template', (req, res) => answer(req, res, getTemplate(state, req.query.page)));
  app.use('/api/v3', (req, res) =>
    answer(req, res, new ProviderReply(404, 'NOT_FOUND', 'Endpoint not found')),
  );
  app.use((error: Error & { type?: string }, req: Request, res: Response, _next: NextFunction) => {
    answer(
      req,
      res,
      fieldInvalid(error.type === 'entity.parse.failed' ? 'Invalid JSON body' : 'Invalid request'),
    );
  });
}
