import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type RequestHandler } from 'express';
import { requireAccess, type Identity } from '../../src/auth';
import {
  ApiError,
  buildRouters,
  errorHandler,
  notFound,
  sendSuccess,
  type RouteDefinition,
  type RouteTables,
} from '../../src/http';
import { directRoutes } from '../../src/http/direct-routes';
import { createLogger } from '../../src/observability';

// Routes whose method and path alone name them run their chain without Express's router
// (src/http/direct-routes.ts). The router still serves the same route under another case
// (`/V1/THINGS`: Express matches paths case-insensitively), so each answer here is compared with
// the router's answer to the same request.

/** What a handler saw of the request: the mount's trimming, the params, the route Express matched. */
const seen = (req: express.Request) => ({
  baseUrl: req.baseUrl,
  url: req.url,
  params: req.params,
  route: (req.route as { path?: string } | undefined)?.path ?? null,
  tenant: (req.user as Identity | undefined)?.tenantId ?? null,
});

const guardSaw: ReturnType<typeof seen>[] = [];
/** A stand-in for bearer authentication (`Authorization: <tenant> <scope…>`) that records what it saw. */
const authenticate: RequestHandler = (req, _res, next) => {
  guardSaw.push(seen(req));
  const [tenantId, ...scopes] = (req.get('authorization') ?? '').split(' ');
  if (!tenantId) throw new ApiError('AUTH_FAILED', 'Authorization: a bearer token is required');
  req.user = { tenantId, scopes, subject: undefined };
  next();
};
/** Asynchronous, as the real limiter is: the chain must wait for it. */
const rateLimit: RequestHandler = async (req, _res, next) => {
  guardSaw.push(seen(req));
  await Promise.resolve();
  next();
};
/** The steps each request crossed, in order (the edge's, the guards', the route's). */
const crossed: string[] = [];
const step =
  (name: string): RequestHandler =>
  (_req, _res, next) => {
    crossed.push(name);
    next();
  };

function route(overrides: Partial<RouteDefinition>): RouteDefinition {
  return {
    method: 'get',
    path: '/v1/things',
    access: 'sms:read',
    summary: 'a route',
    tags: ['test'],
    responses: { 200: { description: 'ok' } },
    handler: (req, res) => sendSuccess(res, 200, { ...seen(req), body: req.body as unknown }),
    ...overrides,
  };
}

/**
 * The app as createHttpApp assembles it (direct routes first, then the edge and the routers), with
 * a marker layer in front of the routers that records every request reaching them.
 */
async function serve(tables: RouteTables) {
  const routers = buildRouters(tables, {
    authenticate,
    inFlight: step('in-flight'),
    rateLimit,
    requireAccess: (access) => {
      const check = requireAccess(access);
      return (req, res, next) => {
        crossed.push('access');
        check(req, res, next);
      };
    },
  });
  const edge: RequestHandler[] = [step('metrics'), express.json(), step('cors')];
  const direct = directRoutes(edge, routers.direct, notFound());
  const reachedRouter: string[] = [];
  const app = express();
  app.use(direct);
  for (const handler of edge) app.use(handler);
  app.use((req, _res, next) => {
    reachedRouter.push(`${req.method} ${req.url}`);
    next();
  });
  app.use(routers.public, routers.tenant, notFound());
  app.use(errorHandler(createLogger({ level: 'silent', secrets: [] })));
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const call = async (method: string, path: string, body?: unknown, auth = 'alpha sms:read') => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { Authorization: auth, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : null };
  };
  return { server, direct, reachedRouter, call };
}

describe('routes run without the router when their method and path alone name them', () => {
  let app: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    app = await serve({
      publicRoutes: [route({ path: '/v1/events', access: 'public' })],
      tenantRoutes: [
        route({}),
        route({ method: 'post', path: '/v1/things' }),
        route({ path: '/v1/things/:id' }),
        // A parameter before a literal of the same method and prefix could match the literal's path first.
        route({ path: '/v1/admin/:name' }),
        route({ path: '/v1/admin/export' }),
        route({ method: 'post', path: '/v1/admin/export' }),
        // So could one after it, were the literal's handler to fall through.
        route({ method: 'put', path: '/v1/later' }),
        route({ method: 'put', path: '/v1/:anything' }),
        // Express takes these for one path: another case, a trailing slash.
        route({ method: 'delete', path: '/v1/twice' }),
        route({ method: 'delete', path: '/v1/Twice' }),
        route({ method: 'patch', path: '/v1/slash/' }),
        route({ method: 'patch', path: '/v1/slash' }),
        // A public route shares the prefix, but matches another path: not this one.
        route({ method: 'post', path: '/v1/events/tickets' }),
        // A public route that matches this one's method and path answers first.
        route({ path: '/v1/events/' }),
        route({
          path: '/v1/throws',
          handler: () => {
            throw new ApiError('FIELD_INVALID', 'x: thrown');
          },
        }),
        route({
          path: '/v1/rejects',
          handler: async () => {
            await Promise.resolve();
            throw new ApiError('FIELD_INVALID', 'x: rejected');
          },
        }),
        route({
          path: '/v1/passes-error',
          handler: (_req, _res, next) => next(new ApiError('FIELD_INVALID', 'x: passed')),
        }),
        route({ path: '/v1/falls-through', handler: (_req, _res, next) => next() }),
        route({
          path: '/v1/breaks',
          handler: () => {
            throw new TypeError('a bug');
          },
        }),
        route({ path: '/v1/skips-route', middleware: [(_req, _res, next) => next('route')] }),
        route({ path: '/v1/leaves-router', middleware: [(_req, _res, next) => next('router')] }),
      ],
    });
  });
  afterAll(() => new Promise((resolve) => app.server.close(resolve)));
  beforeEach(() => {
    app.reachedRouter.length = 0;
    guardSaw.length = 0;
    crossed.length = 0;
  });

  it('takes only plain paths that no other route matches, before or after them', () => {
    expect([...app.direct.keys].sort()).toEqual(
      [
        'GET /v1/things',
        'POST /v1/things',
        'POST /v1/admin/export',
        'POST /v1/events/tickets',
        'GET /v1/throws',
        'GET /v1/rejects',
        'GET /v1/passes-error',
        'GET /v1/falls-through',
        'GET /v1/breaks',
        'GET /v1/skips-route',
        'GET /v1/leaves-router',
      ].sort(),
    );
  });

  it('runs the route’s chain as the router does: the guards mounted at /v1, then the route with its Route', async () => {
    const direct = await app.call('POST', '/v1/things?x=1', { n: 1 });
    expect(app.reachedRouter).toEqual([]);
    const directGuards = guardSaw.splice(0);
    const directSteps = crossed.splice(0);

    const routed = await app.call('POST', '/V1/THINGS?x=1', { n: 1 });
    expect(app.reachedRouter).toEqual(['POST /V1/THINGS?x=1']);
    expect(directSteps).toEqual(['metrics', 'cors', 'in-flight', 'access']);
    expect(crossed).toEqual(directSteps);

    expect(direct).toEqual({
      status: 200,
      body: {
        data: {
          baseUrl: '',
          url: '/v1/things?x=1',
          params: {},
          route: '/v1/things',
          tenant: 'alpha',
          body: { n: 1 },
        },
        error: { code: 'SUCCESS', description: '' },
      },
    });
    // The same answer, but for the path as written.
    expect(routed).toEqual({
      ...direct,
      body: {
        ...(direct.body as object),
        data: { ...(direct.body as { data: object }).data, url: '/V1/THINGS?x=1' },
      },
    });
    expect(directGuards).toEqual([
      { baseUrl: '/v1', url: '/things?x=1', params: {}, route: null, tenant: null },
      { baseUrl: '/v1', url: '/things?x=1', params: {}, route: null, tenant: 'alpha' },
    ]);
    expect(guardSaw).toEqual([
      { baseUrl: '/V1', url: '/THINGS?x=1', params: {}, route: null, tenant: null },
      { baseUrl: '/V1', url: '/THINGS?x=1', params: {}, route: null, tenant: 'alpha' },
    ]);
  });

  it('answers refusals and errors as the router does', async () => {
    for (const [method, path, auth] of [
      ['GET', '/v1/things', ''], // the guard throws: 401
      ['GET', '/v1/things', 'alpha sms:send'], // the route's scope: 403
      ['GET', '/v1/throws', undefined],
      ['GET', '/v1/rejects', undefined],
      ['GET', '/v1/passes-error', undefined],
      ['GET', '/v1/falls-through', undefined],
      ['GET', '/v1/breaks', undefined],
      ['GET', '/v1/skips-route', undefined],
      ['GET', '/v1/leaves-router', undefined],
    ] as const) {
      app.reachedRouter.length = 0;
      const direct = await app.call(method, path, undefined, auth);
      expect(app.reachedRouter).toEqual([]);
      const routed = await app.call(method, path.toUpperCase(), undefined, auth);
      expect(app.reachedRouter).toHaveLength(1);
      const description = (answer: typeof direct) =>
        ((answer.body as { error: { description: string } }).error.description ?? '').toLowerCase();
      expect([routed.status, description(routed)]).toEqual([direct.status, description(direct)]);
      expect(direct.status).not.toBe(200);
    }
  });

  it('leaves to the router what it does not name exactly', async () => {
    await app.call('GET', '/v1/things/');
    await app.call('HEAD', '/v1/things');
    await app.call('GET', '/v1/admin/export');
    await app.call('GET', '/v1/events/');
    await app.call('GET', '/v1/things/7');
    expect(app.reachedRouter).toEqual([
      'GET /v1/things/',
      'HEAD /v1/things',
      'GET /v1/admin/export',
      'GET /v1/events/',
      'GET /v1/things/7',
    ]);
    // The router's matching is unchanged: the parameter route answers /v1/admin/export first.
    expect((await app.call('GET', '/v1/admin/export')).body).toMatchObject({
      data: { route: '/v1/admin/:name' },
    });
  });
});
