import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import cors from 'cors';
import type { RequestHandler } from 'express';
import type { Config } from '../config';
import type { Identity } from './identity';

/** What the API's CORS answers allow and show (the same for every tenant). */
export const API_CORS = {
  methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
  allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'Prefer', 'Last-Event-ID'],
  exposedHeaders: [
    'RateLimit',
    'RateLimit-Policy',
    'Retry-After',
    'Idempotent-Replayed',
    'Preference-Applied',
  ],
} as const;

/** The API's paths, in any case: Express matches paths case-insensitively (`/V1/MESSAGES` is the send). */
const API_PATH = /^\/v1\//i;

/** Paths with CORS of their own (forms), or never called by browsers (provider callbacks, client credentials). */
const OWN_POLICY = /^\/v1\/(forms|callbacks|auth)(\/|$)/i;

/**
 * CORS for the authenticated API and the event stream, per tenant (tenants.<id>.cors).
 *
 * A preflight carries no token, so it cannot know the tenant: it is answered here, before
 * authentication, with 204 and a grant for an origin that ANY tenant lists (204 with no grant,
 * never `*` and never the unlisted origin echoed, otherwise). The real request is then judged once its
 * token is known: the grant (Access-Control-Allow-Origin, the exposed headers and a
 * Cross-Origin-Resource-Policy that lets the page read the answer) is given only when the token's
 * own tenant lists the origin. So tenant B's origin gets nothing from tenant A's token, even though
 * its preflight passed. An answer given before any tenant is known (401: no or bad token) is
 * readable by an origin any tenant lists, so a page can tell that it must sign in again.
 */
export function apiCors(tenants: Config['tenants']): RequestHandler {
  const listedBy = new Map<string, { tenants: Set<string>; maxAgeSec: number }>();
  for (const [tenantId, tenant] of Object.entries(tenants)) {
    for (const origin of tenant.cors.allowedOrigins) {
      const entry = listedBy.get(origin) ?? { tenants: new Set<string>(), maxAgeSec: tenant.cors.maxAgeSec };
      entry.tenants.add(tenantId);
      // Shared by tenants: the shortest cache any of them asked for.
      entry.maxAgeSec = Math.min(entry.maxAgeSec, tenant.cors.maxAgeSec);
      listedBy.set(origin, entry);
    }
  }

  const preflight = cors((req, callback) => {
    const origin = req.headers.origin;
    const entry = origin ? listedBy.get(origin) : undefined;
    callback(null, {
      origin: entry ? origin : false, // only listed origins reach this
      methods: [...API_CORS.methods],
      allowedHeaders: [...API_CORS.allowedHeaders],
      maxAge: entry?.maxAgeSec ?? 0,
      optionsSuccessStatus: 204,
      preflightContinue: false,
    });
  });

  return (req, res, next) => {
    if (!API_PATH.test(req.path) || OWN_POLICY.test(req.path)) {
      next();
      return;
    }
    const origin = req.get('origin');
    res.vary('Origin');
    if (req.method === 'OPTIONS' && req.get('access-control-request-method')) {
      // Unlisted (or no) origin: 204 with no grant, so the browser stops there.
      if (origin && listedBy.has(origin)) preflight(req, res, next);
      else res.status(204).end();
      return;
    }
    if (!origin) {
      next();
      return;
    }
    const entry = listedBy.get(origin);
    if (!entry) {
      next();
      return;
    }
    beforeHeaders(res, () => {
      const identity = req.user as Identity | undefined;
      const granted = identity ? entry.tenants.has(identity.tenantId) : true;
      if (!granted) return;
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Expose-Headers', API_CORS.exposedHeaders.join(', '));
      res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
    });
    next();
  };
}

/**
 * Runs `hook` once, just before the status line and headers are written, whichever way they are
 * (res.json, res.end, or an explicit writeHead as the event stream does). Hand-rolled (the
 * `on-headers` package does the same in as many lines): the grant depends on the identity, which
 * is known only after authentication, and errors and streams write their headers on their own.
 */
function beforeHeaders(res: ServerResponse, hook: () => void): void {
  const writeHead = res.writeHead.bind(res) as (
    statusCode: number,
    ...rest: (string | OutgoingHttpHeaders | undefined)[]
  ) => ServerResponse<IncomingMessage>;
  let done = false;
  res.writeHead = ((statusCode: number, ...rest: (string | OutgoingHttpHeaders | undefined)[]) => {
    if (!done) {
      done = true;
      hook();
    }
    return writeHead(statusCode, ...rest);
  }) as ServerResponse['writeHead'];
}
