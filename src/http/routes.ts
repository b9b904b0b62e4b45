import { Router, type RequestHandler } from 'express';
import type { ZodObject, ZodType } from 'zod';
import { scopeSchema, type Scope } from '../config';
import { directKey, type ChainStep } from './direct-routes';
import { ApiError } from './errors';

/**
 * Who may call a route: anyone (`public`), any caller with a valid bearer token (`authenticated`),
 * or a caller whose token carries this scope. Every route states one; there is no default.
 */
export type Access = 'public' | 'authenticated' | Scope;

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete' | 'options';

/** One documented answer: a description and, unless it has no body, its schema per media type. */
export interface ResponseSpec {
  description: string;
  content?: Record<string, ZodType>;
}

/**
 * The request parts a route reads. Each schema both documents the part and is checked before the
 * handler runs; a value it refuses is `FIELD_INVALID` naming the field (the schema's own messages).
 */
export interface RequestSpec {
  params?: ZodObject;
  query?: ZodObject;
  /** Header names as documented (`Idempotency-Key`); read case-insensitively. */
  headers?: ZodObject;
  body?: {
    schema: ZodType;
    contentTypes: string[];
    /**
     * Checks the body instead of the plain schema check, for a body whose checks answer other
     * codes too (`FIELD_EMPTY` before `FIELD_INVALID`); it must be built on `schema`.
     */
    parse?: (body: unknown) => unknown;
  };
}

/** OpenAPI security requirements, e.g. `[{ bearer: [] }]`. */
export type SecurityRequirements = Record<string, string[]>[];

export interface RouteDefinition {
  method: HttpMethod;
  /** Express syntax (`/v1/messages/:id`); documented as `/v1/messages/{id}`. */
  path: string;
  access: Access;
  /**
   * Only for a public route that authenticates its callers itself, before the tenant routes'
   * bearer check (the event stream: a bearer token or a `?ticket=`). The table still checks the
   * route's access after it.
   */
  authenticate?: { handler: RequestHandler; security: SecurityRequirements };
  summary: string;
  tags: string[];
  request?: RequestSpec;
  /** The answers other than the failure envelope, which every route may give. */
  responses: Record<number, ResponseSpec>;
  /** Run after the access check and before the request check, in this order. */
  middleware?: RequestHandler[];
  handler: RequestHandler;
}

export interface RouteGuards {
  /** Bearer-token authentication, in front of every tenant route (and every unknown `/v1` path). */
  authenticate: RequestHandler;
  /** The tenant's request rate limit, after authentication. */
  rateLimit: RequestHandler;
  /** The bound on a tenant's requests open at once, between authentication and the rate limit. */
  inFlight?: RequestHandler;
  /** Refuses a caller without the identity or scope a route's access names. */
  requireAccess: (access: Exclude<Access, 'public'>) => RequestHandler;
}

export interface RouteTables {
  /** Anyone may call these; each does its own checks (tokens in the path, origins, CAPTCHA…). */
  publicRoutes: RouteDefinition[];
  /** Behind bearer authentication and the tenant rate limit; each names an identity or scope. */
  tenantRoutes: RouteDefinition[];
}

const ACCESS: readonly string[] = ['public', 'authenticated', ...scopeSchema.options];

/** `/v1/messages/:id` → `/v1/messages/{id}`; a trailing `{/*rest}` (a subtree, e.g. assets) is dropped. */
export function toOpenApiPath(path: string): string {
  return path.replace(/\{\/\*\w+\}$/, '').replace(/:(\w+)/g, '{$1}');
}

/**
 * Builds the two routers from the route tables. The table, not the route, decides where a route
 * goes and inserts its access check, so a route cannot end up unauthenticated by being mounted on
 * the wrong line: a public table may hold only `public` routes (or one that authenticates itself),
 * a tenant table none of them, and a route without a known access stops the gateway from starting.
 *
 * Each table is split by the path's leading literal segments (`/healthz`, `/v1/messages`: see
 * `prefixOf`), so a request is matched only against the routes that could answer it, not against
 * every route's pattern in turn (a send used to be tried against each public route first). The
 * order is unchanged where it matters: the public routes of a prefix still come before the tenant
 * routes, and authentication still comes before any tenant route or unknown `/v1` path.
 */
export function buildRouters(
  tables: RouteTables,
  guards: RouteGuards,
): { public: RequestHandler; tenant: RequestHandler; direct: Map<string, ChainStep[]> } {
  checkTables(tables);
  const publicRouter = byPrefix(
    tables.publicRoutes.map((route) => {
      const checks = route.authenticate
        ? [route.authenticate.handler, guards.requireAccess(route.access as Exclude<Access, 'public'>)]
        : [];
      return { route, checks };
    }),
  );
  const tenantGuards = [guards.authenticate, ...(guards.inFlight ? [guards.inFlight] : []), guards.rateLimit];
  const tenantRouter = Router();
  // Every /v1 path not answered by a public route is authenticated first, known or not.
  tenantRouter.use(TENANT_MOUNT, ...tenantGuards);
  const tenantEntries = tables.tenantRoutes.map((route) => ({
    route,
    checks: [guards.requireAccess(route.access as Exclude<Access, 'public'>)],
  }));
  const registered = new Map<RouteDefinition, RegisteredRoute>();
  const tenantDispatch = byPrefix(tenantEntries, registered);
  tenantRouter.use(tenantDispatch);
  // The same chains, for the routes that can be run without the router (src/http/direct-routes.ts).
  const direct = new Map<string, ChainStep[]>();
  const layers = [...publicRouter.stack, ...tenantDispatch.stack] as RouteLayer[];
  for (const route of directRoutesOf(tables.tenantRoutes, registered, layers)) {
    const { steps, expressRoute } = registered.get(route)!;
    direct.set(directKey(route.method, route.path), [
      ...tenantGuards.map((handler) => ({ handler, mountPath: TENANT_MOUNT })),
      { handler: steps[0]!, route: expressRoute },
      ...steps.slice(1).map((handler) => ({ handler })),
    ]);
  }
  return { public: publicRouter, tenant: tenantRouter, direct };
}

/** Where the tenant guards are mounted: every `/v1` path a public route does not answer. */
const TENANT_MOUNT = '/v1';

/** What the route tables read of a registered Express layer: its route, and its own path matcher. */
interface RouteLayer {
  route?: { _handlesMethod(method: string): boolean };
  match(path: string): unknown;
}

/**
 * The tenant routes a request can be matched to by its exact method and path, because no other
 * route, public or tenant, before or after it, matches that method and path by Express's own
 * matching (so a handler falling through ends in the 404 either way). Only a plain path qualifies
 * (no parameter or wildcard), and OPTIONS routes are left to the router, beside the preflights it
 * answers.
 */
function directRoutesOf(
  tenantRoutes: RouteDefinition[],
  registered: Map<RouteDefinition, RegisteredRoute>,
  layers: RouteLayer[],
): RouteDefinition[] {
  return tenantRoutes.filter((route) => {
    if (route.method === 'options' || /[:*{(?+]/.test(route.path)) return false;
    const own = registered.get(route)?.expressRoute;
    return !layers.some(
      (layer) =>
        layer.route !== undefined &&
        layer.route !== own &&
        layer.route._handlesMethod(route.method) &&
        layer.match(route.path) !== false,
    );
  });
}

/**
 * The prefix a request or a route path is grouped by: the first segment, or the first two under
 * `/v1/` (`/v1/messages`), lower-cased as Express matches paths case-insensitively. A trailing
 * slash is ignored (`/healthz/` is `/healthz`), as Express ignores it.
 */
export function prefixOf(path: string): string {
  const lower = path.toLowerCase();
  const firstEnd = lower.indexOf('/', 1);
  if (firstEnd === -1) return lower;
  if (lower.slice(0, firstEnd) !== '/v1') return lower.slice(0, firstEnd);
  const secondEnd = lower.indexOf('/', firstEnd + 1);
  return secondEnd === -1 ? lower : lower.slice(0, secondEnd);
}

/** A route path's prefix, when its leading segments are plain text (no parameter or wildcard in them). */
function routePrefix(path: string): string | undefined {
  const special = path.search(/[:*{(?+]/);
  const literal = special === -1 ? path : path.slice(0, special);
  const prefix = prefixOf(literal);
  // The literal part must cover the prefix's segments whole: `/docs{/*asset}` is `/docs`, `/v1/:x` has none.
  const rest = literal.slice(prefix.length);
  const whole = special === -1 || rest.startsWith('/') || (rest === '' && path.startsWith('{/', special));
  return whole && prefix.length > 1 && /^[/a-z0-9._~-]+$/.test(prefix) ? prefix : undefined;
}

/**
 * One router per prefix, and a handler that hands a request to its prefix's router (or straight on
 * when no route has that prefix). A route whose leading segments are not plain text goes into a
 * router tried for every request, after the prefix's.
 */
function byPrefix(
  entries: { route: RouteDefinition; checks: RequestHandler[] }[],
  registered?: Map<RouteDefinition, RegisteredRoute>,
): RequestHandler & { stack: unknown[] } {
  const routers = new Map<string, Router>();
  let anyPath: Router | undefined;
  for (const { route, checks } of entries) {
    const prefix = routePrefix(route.path);
    let router = prefix === undefined ? anyPath : routers.get(prefix);
    if (!router) {
      router = Router();
      if (prefix === undefined) anyPath = router;
      else routers.set(prefix, router);
    }
    const entry = register(router, route, checks);
    registered?.set(route, entry);
  }
  const fallback = anyPath;
  const dispatch: RequestHandler = (req, res, next) => {
    const router = routers.get(prefixOf(req.path));
    if (!fallback) {
      if (router) router(req, res, next);
      else next();
      return;
    }
    if (!router) {
      fallback(req, res, next);
      return;
    }
    router(req, res, (error?: unknown) => {
      if (error) next(error);
      else fallback(req, res, next);
    });
  };
  // Every route's layer, as a Router shows them in `stack`, for what inspects the mounted routes
  // (the test that the OpenAPI document lists exactly what is served).
  const stack = [...routers.values(), ...(fallback ? [fallback] : [])].flatMap((router) => router.stack);
  return Object.assign(dispatch, { stack });
}

/** Throws on any route whose access is missing, unknown, or in the wrong table, or on a duplicate. */
export function checkTables({ publicRoutes, tenantRoutes }: RouteTables): void {
  const seen = new Set<string>();
  const problem = (route: RouteDefinition, text: string) =>
    new Error(`route ${String(route.method).toUpperCase()} ${route.path}: ${text}`);
  for (const [table, routes] of [
    ['public', publicRoutes],
    ['tenant', tenantRoutes],
  ] as const) {
    for (const route of routes) {
      if (!ACCESS.includes(route.access))
        throw problem(route, `access must be one of ${ACCESS.join(', ')}, got '${String(route.access)}'`);
      const key = `${route.method} ${toOpenApiPath(route.path)}`;
      if (seen.has(key)) throw problem(route, 'registered twice');
      seen.add(key);
      if (table === 'public' && route.access !== 'public' && !route.authenticate)
        throw problem(route, `access '${route.access}' needs authentication: put it in the tenant routes`);
      if (table === 'tenant' && route.access === 'public')
        throw problem(route, 'public access: put it in the public routes');
      if (table === 'tenant' && route.authenticate)
        throw problem(route, 'tenant routes are authenticated by the table, not by the route');
      if (table === 'tenant' && !route.path.startsWith('/v1/'))
        throw problem(route, 'tenant routes live under /v1/, where authentication is mounted');
    }
  }
}

/** A registered route: its handlers in order, and the Route object Express made for them. */
interface RegisteredRoute {
  steps: RequestHandler[];
  expressRoute: unknown;
}

function register(router: Router, route: RouteDefinition, checks: RequestHandler[]): RegisteredRoute {
  const validate = route.request ? [requestValidator(route.request)] : [];
  const steps = [...checks, ...(route.middleware ?? []), ...validate, route.handler];
  router[route.method](route.path, ...steps);
  return { steps, expressRoute: router.stack[router.stack.length - 1]?.route };
}

function requestValidator(request: RequestSpec): RequestHandler {
  return (req, _res, next) => {
    if (request.params) parseWith(request.params, req.params);
    if (request.query) parseWith(request.query, req.query);
    if (request.headers) {
      const names = Object.keys(request.headers.shape);
      parseWith(request.headers, Object.fromEntries(names.map((name) => [name, req.get(name)])));
    }
    if (request.body) {
      if (request.body.parse) request.body.parse(req.body);
      else parseWith(request.body.schema, req.body);
    }
    next();
  };
}

/** Parses with a zod schema; a refusal is `FIELD_INVALID` naming the first field at fault. */
export function parseWith<T extends ZodType>(schema: T, value: unknown): ReturnType<T['parse']> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data as ReturnType<T['parse']>;
  const issue = parsed.error.issues[0];
  const field =
    issue?.path
      .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
      .join('') ?? 'body';
  const message =
    issue?.code === 'unrecognized_keys'
      ? `unknown field '${issue.keys.join("', '")}'`
      : (issue?.message ?? 'invalid');
  throw new ApiError('FIELD_INVALID', `${field || 'body'}: ${message}`);
}
