import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { Config } from '../config';
import { createAddressMatcher } from '../egress';
import {
  ApiError,
  jsonResponse,
  requireJson,
  sendSuccess,
  successSchema,
  type RouteDefinition,
} from '../http';
import { equalsConstantTime } from '../security';
import type { InboundCounts, IntakeCounts } from '../store';

/**
 * The provider signs nothing, so its callbacks carry an unguessable token in the path (two may
 * be active while one is rotated), compared in constant time. A wrong token gets the same 404
 * as an unknown route, and nothing is stored.
 */
export function callbackToken(tokens: string[]): RequestHandler {
  return (req, _res, next) => {
    const presented = String(req.params.token ?? '');
    const ok = tokens.some((token) => equalsConstantTime(token, presented));
    if (ok) next();
    else next(new ApiError('NOT_FOUND', `no route ${req.method} /v1/callbacks/cellcast/…`));
  };
}

/**
 * The optional extra locks: a source-address allowlist (a caller outside it gets the same 404 as
 * a wrong token) and HTTP Basic credentials, which the operator embeds in the callback URLs.
 */
export function callbackGuard(settings: Config['callbacks']): RequestHandler {
  const fromAllowedAddress =
    settings.allowedIps.length > 0 ? createAddressMatcher(settings.allowedIps) : undefined;
  const expected = settings.basicAuth
    ? `Basic ${Buffer.from(`${settings.basicAuth.username}:${settings.basicAuth.password}`).toString('base64')}`
    : undefined;
  return (req, res, next) => {
    if (fromAllowedAddress && !fromAllowedAddress(req.ip ?? '')) {
      next(new ApiError('NOT_FOUND', `no route ${req.method} /v1/callbacks/cellcast/…`));
      return;
    }
    if (expected !== undefined && !equalsConstantTime(expected, req.get('authorization') ?? '')) {
      res.set('WWW-Authenticate', 'Basic realm="smsgate-callbacks"');
      next(new ApiError('AUTH_FAILED', 'Authorization: the callback credentials are missing or wrong'));
      return;
    }
    next();
  };
}

export interface CallbackIntakes {
  receiveDeliveryReports: (body: unknown) => Promise<IntakeCounts>;
  receiveInbound: (body: unknown) => Promise<InboundCounts>;
}

const dlrCountsSchema = z
  .object({
    applied: z.number().int(),
    duplicates: z.number().int(),
    ignored: z.number().int(),
    rejected: z.number().int(),
  })
  .meta({ id: 'DeliveryReportCounts' });

const inboundCountsSchema = z
  .object({ stored: z.number().int(), duplicates: z.number().int(), rejected: z.number().int() })
  .meta({ id: 'InboundCounts' });

/** The provider's posts: public, since the provider holds no token; the path's token is the lock. */
export function callbackRoutes(
  settings: Config['callbacks'],
  { receiveDeliveryReports, receiveInbound }: CallbackIntakes,
): RouteDefinition[] {
  const guards = [callbackToken(settings.tokens), callbackGuard(settings), requireJson];
  const request = {
    params: z.object({ token: z.string() }),
    body: { schema: z.unknown(), contentTypes: ['application/json'] },
  };
  return [
    {
      method: 'post',
      path: '/v1/callbacks/cellcast/:token/dlr',
      access: 'public',
      summary: 'Provider delivery reports (array or object), stored before 200',
      tags: ['callbacks'],
      request,
      responses: { 200: jsonResponse(successSchema(dlrCountsSchema)) },
      middleware: guards,
      handler: async (req, res) => {
        sendSuccess(res, 200, await receiveDeliveryReports(req.body));
      },
    },
    {
      method: 'post',
      path: '/v1/callbacks/cellcast/:token/inbound',
      access: 'public',
      summary: 'Provider inbound replies (array or object), stored before 200',
      tags: ['callbacks'],
      request,
      responses: { 200: jsonResponse(successSchema(inboundCountsSchema)) },
      middleware: guards,
      handler: async (req, res) => {
        sendSuccess(res, 200, await receiveInbound(req.body));
      },
    },
  ];
}
