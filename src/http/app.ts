import express, { type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import type { Config } from '../config';
import type { Logger } from '../observability';
import { directRoutes } from './direct-routes';
import { errorHandler, notFound } from './error-handler';
import { requireHttps } from './https-check';
import { exceedsJsonDepth, MAX_JSON_DEPTH } from './json-depth';
import { ApiError } from './errors';
import { accessLogger } from './request-context';
import { buildRouters, type RouteGuards, type RouteTables } from './routes';

export interface HttpAppOptions {
  logger: Logger;
  /** Request metrics, first so every answer is counted. */
  httpMetrics: RequestHandler;
  /** While draining, every answer asks its keep-alive client to reconnect (to another replica). */
  isDraining: () => boolean;
  guards: RouteGuards;
  /** CORS of the authenticated API (preflights answered before authentication). */
  cors?: RequestHandler;
  /**
   * Waits for this request's turn of the event loop (nextCpuTurn), once its body is read. Without
   * it, every request one poll phase reads runs its whole chain (routing, authentication, the
   * limiter, validation) in that phase: under a load of sends, 200 connections' requests held the
   * loop 55-86 ms. After the body, not before: a body read after the turn arrives in a callback
   * of its own, and the rest of the chain would run outside the turn's budget.
   */
  takeTurn?: () => Promise<void>;
}

/**
 * The Express app: the edge every request crosses (metrics, access log, security headers, HTTPS,
 * JSON body), then the public routes, then the tenant routes behind authentication and the rate
 * limit, then the 404 and the error envelope.
 */
export function createHttpApp(config: Config, options: HttpAppOptions, routes: RouteTables): Express {
  const { logger, isDraining } = options;
  const app = express();
  app.disable('x-powered-by');
  // No ETag on API answers: nothing revalidates them (each is a fresh read), and Express would hash
  // every body to make one. Static files (the console, Swagger UI) keep theirs from `send`.
  app.set('etag', false);
  app.set('trust proxy', config.http.trustProxy);
  app.set('query parser', 'simple');
  const log = accessLogger(logger, { sampleEvery: config.http.accessLogSampleEvery });
  const headers = securityHeaders(helmet({ strictTransportSecurity: hstsOf(config) }));
  const takeTurn = options.takeTurn;
  const turn: RequestHandler[] = takeTurn
    ? [(_req, _res, next) => void takeTurn().then(() => next(), next)]
    : [];
  // What every request crosses before routing, in order.
  const edge: RequestHandler[] = [
    options.httpMetrics,
    // One layer for what every request gets before the body (each Express layer costs a match and a call).
    (req, res, next) => {
      if (isDraining()) res.setHeader('Connection', 'close');
      log(req, res);
      for (const [name, value] of headers) res.setHeader(name, value);
      next();
    },
    ...(config.http.requireHttps
      ? [requireHttps({ enabled: true, sandbox: config.mode === 'sandbox' })]
      : []),
    jsonBody(config.http.bodyLimit),
    ...turn,
    ...(options.cors ? [options.cors] : []),
  ];
  const routers = buildRouters(routes, options.guards);
  // First, the routes whose method and path alone say which route answers: the same edge and
  // chain, without the router's per-layer work (src/http/direct-routes.ts).
  app.use(directRoutes(edge, routers.direct, notFound()));
  for (const handler of edge) app.use(handler);
  app.use(routers.public);
  app.use(routers.tenant);
  app.use(notFound());
  app.use(errorHandler(logger));
  return app;
}

/** HSTS only where the browser really reaches us over TLS: our own, or a TLS proxy we trust. */
function hstsOf(config: Config) {
  const overTls = config.tls.certFile !== undefined || config.http.trustProxy > 0;
  return overTls ? { maxAge: config.tls.hstsMaxAgeSec, includeSubDomains: true } : false;
}

/**
 * The headers helmet sets, computed once: helmet builds its Content-Security-Policy value (and
 * calls a dozen small middleware) on every request, though with a fixed configuration (no nonce,
 * no function directive) every request gets the same values. Helmet is run once against a
 * recording response, and its headers are replayed from this list.
 */
export function securityHeaders(middleware: RequestHandler): readonly (readonly [string, string])[] {
  const set = new Map<string, string>();
  const recorder = {
    setHeader(name: string, value: unknown) {
      set.set(name, String(value));
      return recorder;
    },
    removeHeader(name: string) {
      set.delete(name);
    },
    getHeader: (name: string) => set.get(name),
  };
  let called = false;
  middleware(
    {} as Parameters<RequestHandler>[0],
    recorder as unknown as Parameters<RequestHandler>[1],
    (error?: unknown) => {
      if (error instanceof Error) throw error;
      if (error) throw new Error('helmet refused its own configuration');
      called = true;
    },
  );
  if (!called) throw new Error('helmet did not call next() synchronously');
  return Object.freeze([...set].map(([name, value]) => Object.freeze([name, value] as const)));
}

/**
 * `express.json` and the depth limit in one layer. The depth walk runs only on a parsed object or
 * array (never on a GET), and not for provider callback batches, which are checked item by item
 * (src/callbacks) so that one bad item costs nothing else.
 */
function jsonBody(limit: Config['http']['bodyLimit']): RequestHandler {
  const parse = express.json({ limit, strict: true });
  const batches = /^\/v1\/callbacks\//i;
  return (req, res, next) => {
    parse(req, res, (error?: unknown) => {
      if (error) return next(error);
      const body: unknown = req.body;
      if (
        typeof body === 'object' &&
        body !== null &&
        !batches.test(req.path) &&
        exceedsJsonDepth(body, MAX_JSON_DEPTH)
      ) {
        return next(new ApiError('FIELD_INVALID', `body: nested deeper than ${MAX_JSON_DEPTH} levels`));
      }
      next();
    });
  };
}
