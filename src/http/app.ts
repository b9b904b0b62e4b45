import express, { type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import type { Config } from '../config';
import type { Logger } from '../observability';
import { errorHandler, notFound } from './error-handler';
import { requireHttps } from './https-check';
import { limitJsonDepth, MAX_JSON_DEPTH } from './json-depth';
import { accessLog } from './request-context';
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
  app.set('trust proxy', config.http.trustProxy);
  app.set('query parser', 'simple');
  app.use(options.httpMetrics);
  app.use((_req, res, next) => {
    if (isDraining()) res.setHeader('Connection', 'close');
    next();
  });
  app.use(accessLog(logger));
  app.use(helmet({ strictTransportSecurity: hstsOf(config) }));
  app.use(requireHttps({ enabled: config.http.requireHttps, sandbox: config.mode === 'sandbox' }));
  app.use(express.json({ limit: config.http.bodyLimit, strict: true }));
  // Provider callback batches are checked item by item (src/callbacks), so one bad item costs nothing else.
  app.use(limitJsonDepth(MAX_JSON_DEPTH, { except: (req) => /^\/v1\/callbacks\//i.test(req.path) }));
  if (options.cors) app.use(options.cors);
  const routers = buildRouters(routes, options.guards);
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
