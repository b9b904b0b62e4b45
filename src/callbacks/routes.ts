import { timingSafeEqual } from 'node:crypto';
import { Router, type RequestHandler } from 'express';
import { requireJson, sendSuccess } from '../http';
import { ApiError } from '../http/errors';
import type { IntakeCounts } from '../store';

/**
 * The provider signs nothing, so its callbacks carry an unguessable token in the path (two may
 * be active while one is rotated), compared in constant time. A wrong token gets the same 404
 * as an unknown route, and nothing is stored.
 */
export function callbackToken(tokens: string[]): RequestHandler {
  const accepted = tokens.map((token) => Buffer.from(token));
  return (req, _res, next) => {
    const presented = Buffer.from(String(req.params.token ?? ''));
    const ok = accepted.some(
      (token) => token.length === presented.length && timingSafeEqual(token, presented),
    );
    if (ok) next();
    else next(new ApiError('NOT_FOUND', `no route ${req.method} /v1/callbacks/cellcast/…`));
  };
}

export interface CallbackIntakes {
  receiveDeliveryReports: (body: unknown) => Promise<IntakeCounts>;
  receiveInbound: (body: unknown) => Promise<{ stored: number; duplicates: number; rejected: number }>;
}

export function callbacksRouter(
  tokens: string[],
  { receiveDeliveryReports, receiveInbound }: CallbackIntakes,
): Router {
  const router = Router();
  router.post('/v1/callbacks/cellcast/:token/dlr', callbackToken(tokens), requireJson, async (req, res) => {
    sendSuccess(res, 200, await receiveDeliveryReports(req.body));
  });
  router.post(
    '/v1/callbacks/cellcast/:token/inbound',
    callbackToken(tokens),
    requireJson,
    async (req, res) => {
      sendSuccess(res, 200, await receiveInbound(req.body));
    },
  );
  return router;
}
