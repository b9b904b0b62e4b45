import { z } from 'zod';
import { identityOf } from '../auth';
import { jsonResponse, requireJson, sendSuccess, successSchema, type RouteDefinition } from '../http';
import {
  checkByIdSchema,
  checkByNumberSchema,
  checkResultSchema,
  startRequestSchema,
  verificationSchema,
} from './contract';
import type { Verifier } from './verifications';

export function verificationRoutes(verifier: Verifier): RouteDefinition[] {
  const json = ['application/json'];
  return [
    {
      method: 'post',
      path: '/v1/verifications',
      access: 'verify:send',
      summary: 'Send a verification code by SMS (pumping limits apply)',
      tags: ['verifications'],
      request: { body: { schema: startRequestSchema, contentTypes: json } },
      responses: { 201: jsonResponse(successSchema(verificationSchema), 'Code sent') },
      middleware: [requireJson],
      handler: async (req, res) => {
        const body = startRequestSchema.parse(req.body);
        sendSuccess(res, 201, await verifier.start(identityOf(req), body, req.ip ?? null));
      },
    },
    {
      method: 'post',
      path: '/v1/verifications/check',
      access: 'verify:check',
      summary: "Check a code against the number's latest verification",
      tags: ['verifications'],
      request: { body: { schema: checkByNumberSchema, contentTypes: json } },
      responses: { 200: jsonResponse(successSchema(checkResultSchema), 'approved or denied') },
      middleware: [requireJson],
      handler: async (req, res) => {
        const { to, code } = checkByNumberSchema.parse(req.body);
        sendSuccess(res, 200, await verifier.check(identityOf(req), { to }, code));
      },
    },
    {
      method: 'post',
      path: '/v1/verifications/:id/check',
      access: 'verify:check',
      summary: 'Check a code against one verification',
      tags: ['verifications'],
      request: {
        params: z.object({ id: z.string().max(64) }),
        body: { schema: checkByIdSchema, contentTypes: json },
      },
      responses: { 200: jsonResponse(successSchema(checkResultSchema), 'approved or denied') },
      middleware: [requireJson],
      handler: async (req, res) => {
        const { code } = checkByIdSchema.parse(req.body);
        sendSuccess(res, 200, await verifier.check(identityOf(req), { id: String(req.params.id) }, code));
      },
    },
  ];
}
