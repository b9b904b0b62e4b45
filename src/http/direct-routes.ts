import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * One step of a route's chain as Express would run it: the handler, the path Express would have
 * mounted it at (the tenant guards are `use('/v1', …)`), or the Route object Express would have
 * set as `req.route` once the request reached the route's own handlers.
 */
export interface ChainStep {
  handler: RequestHandler;
  mountPath?: string;
  route?: unknown;
}

/** `POST /v1/messages`: a chain's key, method upper-cased and the path exactly as registered. */
export const directKey = (method: string, path: string): string => `${method.toUpperCase()} ${path}`;

export interface DirectRoutes extends RequestHandler {
  /** The keys answered without the router (for the test that the send route is one of them). */
  keys: readonly string[];
}

/**
 * Routes whose path has no parameters, run without Express's router. Express 5's router costs a
 * request a match, a prefix trim and a parameter pass per layer it crosses, and a send crosses
 * about twenty (the edge, the route table's dispatch, the tenant guards, the route's own
 * handlers): 8-10 % of a send's CPU in the capacity and through-the-cap profiles, more than all of
 * the route's own validation. This is the app's first layer: a request whose method and path are
 * exactly a key here (no trailing slash, no other case, no HEAD for a GET) runs the same handlers,
 * in the same order, that the router would have run for it; anything else goes on to the router.
 *
 * Hand-rolled because the router is what is skipped; it keeps what the handlers can see of it:
 * `req.params` is `{}` (the path has none), a mounted guard sees the mount's `req.baseUrl` and
 * `req.url` as Express trims them (and the prefix is put back when it calls `next`), and
 * `req.route` is the route's own Route object from the moment its handlers start (the metrics
 * label reads it). A handler's thrown error, or its rejected promise (or thenable), goes to
 * `next(error)` as the router sends it; any error leaves through the app's next, so the app's error
 * handler answers it as before. A chain that falls through its last handler is `notFound`: the
 * route table takes only routes no other route could answer, before or after (`directRoutesOf` in
 * routes.ts). `next('route')` is `next()` before the route's handlers, as in a `use` layer; from
 * the route's handlers, and `next('router')` anywhere, fall through the same way (from the edge,
 * the router would leave the app instead, to Express's own 404 page; no edge handler calls it).
 *
 * What differs, and nothing reads: an error is handed on in the same turn (the router hands it from
 * a nested router after a `setImmediate`), and Express's `express.router.request` diagnostics
 * channel sees this one layer, not each layer of the chain.
 */
export function directRoutes(
  edge: readonly RequestHandler[],
  chains: ReadonlyMap<string, readonly ChainStep[]>,
  fallThrough: RequestHandler,
): DirectRoutes {
  const full = new Map<string, readonly ChainStep[]>();
  for (const [key, steps] of chains) {
    const all = [...edge.map((handler) => ({ handler })), ...steps, { handler: fallThrough }];
    for (const { handler } of all) {
      // The router passes an error handler by when there is no error; a chain has none to pass.
      if (handler.length > 3) throw new Error(`${key}: an error handler cannot be part of a direct chain`);
    }
    full.set(key, all);
  }
  const layer: RequestHandler = (req, res, next) => {
    const url = req.url;
    const query = url.indexOf('?');
    const steps = full.get(directKey(req.method, query === -1 ? url : url.slice(0, query)));
    if (steps === undefined) next();
    else runChain(steps, req, res, next);
  };
  return Object.assign(layer, { keys: [...full.keys()] });
}

/** Runs `steps` in order as the router would; an error, or the end, goes to `done`. */
function runChain(steps: readonly ChainStep[], req: Request, res: Response, done: NextFunction): void {
  const last = steps.length - 1; // the fall-through
  let index = 0;
  let inRoute = false;
  /** The mount trimmed off `req.url` for the running step, put back as the router puts it back. */
  let mounted: { parentBaseUrl: string; path: string; slashAdded: boolean } | undefined;
  const next = (error?: unknown): void => {
    if (mounted) {
      if (mounted.slashAdded) req.url = req.url.slice(1);
      req.url = mounted.path + req.url;
      req.baseUrl = mounted.parentBaseUrl;
      mounted = undefined;
    }
    if (error === 'route' || error === 'router') {
      if (error === 'router' || inRoute) index = Math.max(index, last);
    } else if (error) {
      done(error);
      return;
    }
    const step = steps[index++];
    if (step === undefined) {
      done();
      return;
    }
    if (step.mountPath !== undefined) {
      const rest = req.url.slice(step.mountPath.length);
      const slashAdded = !rest.startsWith('/');
      mounted = { parentBaseUrl: req.baseUrl, path: step.mountPath, slashAdded };
      req.baseUrl = req.baseUrl + step.mountPath;
      req.url = slashAdded ? `/${rest}` : rest;
    }
    if (step.route !== undefined) {
      req.route = step.route;
      inRoute = true;
    }
    try {
      const returned: unknown = step.handler(req, res, next);
      if (isThenable(returned)) {
        returned.then(undefined, (rejection: unknown) => next(rejection || new Error('Rejected promise')));
      }
    } catch (thrown) {
      next(thrown);
    }
  };
  req.params = {};
  next();
}

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
