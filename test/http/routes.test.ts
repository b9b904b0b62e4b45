import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import express, { type RequestHandler } from 'express';
import request from 'supertest';
import { z } from 'zod';
import { requireAccess, type Identity } from '../../src/auth';
import { scopeSchema } from '../../src/config';
import {
  ApiError,
  buildRouters,
  prefixOf,
  errorHandler,
  sendSuccess,
  type RouteDefinition,
  type RouteGuards,
  type RouteTables,
} from '../../src/http';
import { createLogger } from '../../src/observability';

/** A stand-in for bearer authentication: `Authorization: <tenant> <scope…>`. */
const authenticate: RequestHandler = (req, _res, next) => {
  const [tenantId, ...scopes] = (req.get('authorization') ?? '').split(' ');
  if (!tenantId) throw new ApiError('AUTH_FAILED', 'Authorization: a bearer token is required');
  req.user = { tenantId, scopes, subject: undefined };
  next();
};
const guards: RouteGuards = { authenticate, rateLimit: (_req, _res, next) => next(), requireAccess };

const echo: RequestHandler = (req, res) =>
  sendSuccess(res, 200, { tenant: (req.user as Identity | undefined)?.tenantId ?? null });

/**
 * The routers served on loopback as the app serves them: `after` (a fallback) behind them, then the
 * gateway's error handler, logging nowhere.
 */
async function serve(
  routers: { public: RequestHandler; tenant: RequestHandler },
  ...after: RequestHandler[]
): Promise<{ server: Server; url: string }> {
  const app = express();
  app.use(routers.public, routers.tenant, ...after);
  app.use(
    errorHandler(
      createLogger({
        level: 'fatal',
        secrets: [],
        destination: new Writable({ write: (_c, _e, done) => done() }),
      }),
    ),
  );
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function route(overrides: Partial<RouteDefinition>): RouteDefinition {
  return {
    method: 'get',
    path: '/v1/things',
    access: 'sms:read',
    summary: 'Things',
    tags: ['test'],
    responses: { 200: { description: 'OK' } },
    handler: echo,
    ...overrides,
  };
}

const build = (tables: Partial<RouteTables>) =>
  buildRouters({ publicRoutes: [], tenantRoutes: [], ...tables }, guards);

describe('the route table: every route states its access, and the table enforces it', () => {
  it('refuses, by type and when built, a route without an access decision', () => {
    // @ts-expect-error: `access` is required
    const missing: RouteDefinition = {
      method: 'get',
      path: '/v1/x',
      summary: '',
      tags: [],
      responses: {},
      handler: echo,
    };
    expect(() => build({ tenantRoutes: [missing] })).toThrow(
      `route GET /v1/x: access must be one of public, authenticated, ${scopeSchema.options.join(', ')}, got 'undefined'`,
    );
    // @ts-expect-error: not a scope
    const unknown = route({ access: 'sms:write' });
    expect(() => build({ tenantRoutes: [unknown] })).toThrow("got 'sms:write'");
  });

  it('refuses a route in the wrong table', () => {
    expect(() => build({ publicRoutes: [route({ access: 'admin' })] })).toThrow(
      "route GET /v1/things: access 'admin' needs authentication: put it in the tenant routes",
    );
    expect(() => build({ publicRoutes: [route({ access: 'authenticated' })] })).toThrow('tenant routes');
    expect(() => build({ tenantRoutes: [route({ access: 'public' })] })).toThrow(
      'public access: put it in the public routes',
    );
    expect(() =>
      build({ tenantRoutes: [route({ authenticate: { handler: authenticate, security: [] } })] }),
    ).toThrow('tenant routes are authenticated by the table');
    expect(() => build({ tenantRoutes: [route({ path: '/things' })] })).toThrow(
      'tenant routes live under /v1/',
    );
    expect(() => build({ tenantRoutes: [route({}), route({ path: '/v1/things' })] })).toThrow(
      'registered twice',
    );
  });

  describe('serving', () => {
    let server: Server;
    let url: string;
    beforeAll(async () => {
      const routers = build({
        publicRoutes: [
          route({ path: '/open', access: 'public' }),
          route({
            path: '/v1/self',
            access: 'sms:read',
            authenticate: { handler: authenticate, security: [{ bearer: [] }] },
          }),
        ],
        tenantRoutes: [
          route({ path: '/v1/read', access: 'sms:read' }),
          route({ path: '/v1/any', access: 'authenticated' }),
          route({
            path: '/v1/items/:id',
            access: 'sms:read',
            request: {
              params: z.object({ id: z.string().regex(/^\d+$/, { error: 'expected digits' }) }),
              query: z.object({ page: z.string().optional() }),
            },
          }),
        ],
      });
      ({ server, url } = await serve(routers));
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('serves public routes to anyone, and authenticates every other /v1 path', async () => {
      expect((await request(url).get('/open')).body.data).toEqual({ tenant: null });
      expect((await request(url).get('/v1/read')).status).toBe(401);
      expect((await request(url).get('/v1/unknown')).status).toBe(401);
    });

    it('checks the scope a tenant route names, without the handler asking for it', async () => {
      const denied = await request(url).get('/v1/read').set('Authorization', 'alpha sms:send');
      expect(denied.status).toBe(403);
      expect(denied.body.error).toEqual({
        code: 'FORBIDDEN',
        description: "scope: this route needs 'sms:read'",
      });
      const allowed = await request(url).get('/v1/read').set('Authorization', 'alpha sms:read');
      expect(allowed.body.data).toEqual({ tenant: 'alpha' });
    });

    it('lets any authenticated caller through an `authenticated` route', async () => {
      const res = await request(url).get('/v1/any').set('Authorization', 'alpha');
      expect(res.body.data).toEqual({ tenant: 'alpha' });
    });

    it('checks the scope of a public route that authenticates itself', async () => {
      expect((await request(url).get('/v1/self').set('Authorization', 'alpha sms:send')).status).toBe(403);
      expect((await request(url).get('/v1/self').set('Authorization', 'alpha sms:read')).status).toBe(200);
    });

    it('checks the request against the schemas it documents, naming the field', async () => {
      const res = await request(url).get('/v1/items/abc').set('Authorization', 'alpha sms:read');
      expect(res.status).toBe(400);
      expect(res.body.error).toEqual({ code: 'FIELD_INVALID', description: 'id: expected digits' });
      const ok = await request(url).get('/v1/items/12?page=2').set('Authorization', 'alpha sms:read');
      expect(ok.status).toBe(200);
    });
  });
});

describe('routing by prefix: a request meets only the routes of its leading segments', () => {
  it('groups by the first segment, or the first two under /v1/, lower-cased, ignoring a trailing slash', () => {
    expect(prefixOf('/healthz')).toBe('/healthz');
    expect(prefixOf('/HealthZ/')).toBe('/healthz');
    expect(prefixOf('/docs/index.html')).toBe('/docs');
    expect(prefixOf('/v1/messages')).toBe('/v1/messages');
    expect(prefixOf('/V1/Messages/01ABC')).toBe('/v1/messages');
    expect(prefixOf('/v1/callbacks/cellcast/token/dlr')).toBe('/v1/callbacks');
    expect(prefixOf('/v1')).toBe('/v1');
    expect(prefixOf('/v1/')).toBe('/v1/');
    expect(prefixOf('/')).toBe('/');
  });

  let server: Server;
  let url: string;
  beforeAll(async () => {
    const tag =
      (name: string): RequestHandler =>
      (_req, res) =>
        sendSuccess(res, 200, { route: name });
    const routers = build({
      publicRoutes: [
        route({ path: '/healthz', access: 'public', handler: tag('health') }),
        route({ path: '/docs{/*asset}', access: 'public', handler: tag('docs') }),
        // A public route and tenant routes share the /v1/events prefix.
        route({ path: '/v1/events', access: 'public', handler: tag('stream') }),
        route({ path: '/v1/hooks/:token', method: 'post', access: 'public', handler: tag('hook') }),
        // Not groupable by a plain prefix: tried for every request, after the prefix's routes.
        route({ path: '/:page.html', access: 'public', handler: tag('page') }),
      ],
      tenantRoutes: [
        route({ path: '/v1/events/tickets', method: 'post', access: 'sms:read', handler: tag('tickets') }),
        route({ path: '/v1/messages', access: 'sms:read', handler: tag('list') }),
        route({ path: '/v1/messages/:id', access: 'sms:read', handler: tag('detail') }),
      ],
    });
    const notFound: RequestHandler = (req, _res, next) =>
      next(new ApiError('NOT_FOUND', `no route ${req.method} ${req.path}`));
    ({ server, url } = await serve(routers, notFound));
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const routeOf = async (method: 'get' | 'post', path: string, auth?: string) => {
    const req = request(url)[method](path);
    const res = auth ? await req.set('Authorization', auth) : await req;
    return res.status === 200 ? (res.body.data as { route: string }).route : res.status;
  };

  it('serves public routes without a token, as Express matches them (any case, a trailing slash)', async () => {
    expect(await routeOf('get', '/healthz')).toBe('health');
    expect(await routeOf('get', '/HEALTHZ/')).toBe('health');
    expect(await routeOf('get', '/docs')).toBe('docs');
    expect(await routeOf('get', '/docs/swagger-ui.css')).toBe('docs');
    expect(await routeOf('get', '/v1/events')).toBe('stream');
    expect(await routeOf('post', '/v1/hooks/abc')).toBe('hook');
    expect(await routeOf('get', '/guide.html')).toBe('page');
  });

  it('authenticates every other /v1 path, known or not, also under a public route’s prefix', async () => {
    for (const [method, path] of [
      ['get', '/v1/messages'],
      ['get', '/V1/MESSAGES'],
      ['get', '/v1/messages/42'],
      ['post', '/v1/events/tickets'],
      ['get', '/v1/events/nope'],
      ['get', '/v1/hooks/abc'],
      ['post', '/v1/hooks'],
      ['get', '/v1/nope'],
      ['get', '/v1'],
      ['get', '/v1/'],
    ] as const) {
      expect([path, await routeOf(method, path)]).toEqual([path, 401]);
    }
  });

  it('serves tenant routes to an authenticated caller, and answers 404 for an unknown /v1 path after authenticating', async () => {
    const alpha = 'alpha sms:read';
    expect(await routeOf('get', '/v1/messages', alpha)).toBe('list');
    expect(await routeOf('get', '/V1/Messages/', alpha)).toBe('list');
    expect(await routeOf('get', '/v1/messages/42', alpha)).toBe('detail');
    expect(await routeOf('post', '/v1/events/tickets', alpha)).toBe('tickets');
    expect(await routeOf('get', '/v1/events', alpha)).toBe('stream');
    expect(await routeOf('get', '/v1/events/nope', alpha)).toBe(404);
    expect(await routeOf('get', '/v1/nope', alpha)).toBe(404);
    expect(await routeOf('get', '/nope')).toBe(404);
  });
});
