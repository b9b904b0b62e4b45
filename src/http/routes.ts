import { Router, type RequestHandler } from 'express';
import type { ZodObject, ZodType } from 'zod';
import { scopeSchema, type Scope } from '../config';
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
 */
export function buildRouters(tables: RouteTables, guards: RouteGuards): { public: Router; tenant: Router } {
  checkTables(tables);
  const publicRouter = Router();
  for (const route of tables.publicRoutes) {
    const checks = route.authenticate
      ? [route.authenticate.handler, guards.requireAccess(route.access as Exclude<Access, 'public'>)]
      : [];
    register(publicRouter, route, checks);
  }
  const tenantRouter = Router();
  // Every /v1 path not answered by a public route is authenticated first, known or not.
  tenantRouter.use(
    '/v1',
    guards.authenticate,
    ...(guards.inFlight ? [guards.inFlight] : []),
    guards.rateLimit,
  );
  for (const route of tables.tenantRoutes) {
    register(tenantRouter, route, [guards.requireAccess(route.access as Exclude<Access, 'public'>)]);
  }
  return { public: publicRouter, tenant: tenantRouter };
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

function register(router: Router, route: RouteDefinition, checks: RequestHandler[]): void {
  const validate = route.request ? [requestValidator(route.request)] : [];
  router[route.method](route.path, ...checks, ...(route.middleware ?? []), ...validate, route.handler);
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
