import { createHash } from 'node:crypto';
import express from 'express';
import { rateLimit } from 'express-rate-limit';
import { z } from 'zod';
import type { Config } from '../config';
import { ApiError, jsonResponse, parseWith, success, successSchema, type RouteDefinition } from '../http';
import { equalsConstantTime } from '../security';
import { mintToken } from './token';

const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

/** Finds the tenant and scopes of a client whose secret matches, comparing hashes in constant time. */
export function authenticateClient(config: Config, clientId: string, secret: string) {
  const presented = sha256Hex(secret);
  for (const [tenantId, tenant] of Object.entries(config.tenants)) {
    for (const client of tenant.clients) {
      if (client.id !== clientId) continue;
      if (!equalsConstantTime(client.secretSha256, presented)) return undefined;
      const scopes = (client.scopes ?? tenant.scopes).filter((scope) => tenant.scopes.includes(scope));
      return { tenantId, scopes, clientId };
    }
  }
  // Unknown client: spend the same comparison, so timing does not tell which ids exist.
  equalsConstantTime(presented, presented);
  return undefined;
}

const tokenRequestSchema = z.object({
  grant_type: z.literal('client_credentials', { error: "expected 'client_credentials'" }),
  client_id: z.string().optional(),
  client_secret: z.string().optional(),
});

const tokenSchema = z
  .object({
    access_token: z.string(),
    token_type: z.literal('Bearer'),
    expires_in: z.number().int(),
    scope: z.string(),
  })
  .meta({ id: 'AccessToken' });

/**
 * HTTP Basic credentials as OAuth2 sends them: `id:secret`, each percent-encoded (RFC 6749
 * §2.3.1). No colon or bad percent-encoding is a client's mistake, answered 401 like any bad secret.
 */
function basicCredentials(encoded: string): [string, string] {
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0)
    throw new ApiError('AUTH_FAILED', 'client: Basic credentials must be client_id:client_secret');
  try {
    return [decodeURIComponent(decoded.slice(0, colon)), decodeURIComponent(decoded.slice(colon + 1))];
  } catch {
    throw new ApiError('AUTH_FAILED', 'client: Basic credentials are not valid percent-encoding');
  }
}

/**
 * POST /v1/auth/token — OAuth2 client credentials for team backends that cannot hold a signing key:
 * credentials in HTTP Basic (RFC 6749 §2.3.1) or as client_id/client_secret fields, form-encoded or
 * JSON. The answer carries the OAuth2 fields at the top level beside the usual envelope. Failed
 * attempts are limited per address (10 a minute).
 */
export function clientCredentialsRoutes(config: Config): RouteDefinition[] {
  const attempts = rateLimit({
    windowMs: 60_000,
    limit: 10,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    skipSuccessfulRequests: true,
    handler: (_req, _res, next) =>
      next(new ApiError('OVER_LIMIT', 'auth: too many failed token requests from this address; retry later')),
  });
  return [
    {
      method: 'post',
      path: '/v1/auth/token',
      access: 'public',
      summary: 'OAuth2 client credentials → a token for a team backend',
      tags: ['auth'],
      request: {
        body: {
          schema: tokenRequestSchema,
          contentTypes: ['application/x-www-form-urlencoded', 'application/json'],
          // No body at all is answered like a form without grant_type.
          parse: (body) =>
            parseWith(tokenRequestSchema, typeof body === 'object' && body !== null ? body : {}),
        },
      },
      responses: { 200: jsonResponse(successSchema(tokenSchema).extend(tokenSchema.shape)) },
      middleware: [attempts, express.urlencoded({ extended: false, limit: '4kb' })],
      handler: (req, res) => {
        const body = req.body as z.infer<typeof tokenRequestSchema>;
        let clientId = body.client_id ?? '';
        let secret = body.client_secret ?? '';
        const basic = /^Basic ([A-Za-z0-9+/=]+)$/.exec(req.get('authorization') ?? '');
        if (basic) [clientId, secret] = basicCredentials(basic[1] ?? '');
        if (!clientId || !secret) throw new ApiError('AUTH_FAILED', 'client: credentials are required');
        const client = authenticateClient(config, clientId, secret);
        if (!client) throw new ApiError('AUTH_FAILED', 'client: unknown client or wrong secret');
        const ttl = config.auth.clientTokenTtlSec;
        const token = {
          access_token: '',
          token_type: 'Bearer',
          expires_in: ttl,
          scope: client.scopes.join(' '),
        };
        try {
          token.access_token = mintToken(config, {
            tenantId: client.tenantId,
            scopes: client.scopes,
            ttlSec: ttl,
            subject: `client:${client.clientId}`,
          });
        } catch {
          throw new ApiError(
            'FORBIDDEN',
            'client: this gateway verifies tokens from an identity provider; ask it for one',
          );
        }
        res
          .set('Cache-Control', 'no-store')
          .status(200)
          .json({ ...success(token), ...token });
      },
    },
  ];
}
