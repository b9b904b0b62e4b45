import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { RequestHandler } from 'express';
import type { Identity } from '../auth';
import { isLoopback } from '../security';
import { failure } from './envelope';

/**
 * Refusals answered before Express: a tenant flooding past its rate limit gets its 429 from the
 * raw Node.js request listener, for about the cost of a bare Node.js server's answer, instead of
 * crossing the whole Express app (~600 µs of CPU each, most of it routing, helmet, the body
 * parser, passport and the limiter's store) only to be told the same thing again.
 *
 * A request is answered here only when the answer is already certain and known: a bearer token
 * the authenticator has verified and would accept without asking anyone (its cache), whose
 * limiter has refused in the current window (a fixed window's count only grows until its reset,
 * so every request before the reset is refused too), on a tenant route (a `/v1/` path no public
 * route can answer), with nothing that Express would answer otherwise before the limit (HTTPS
 * required, a body over the limit or in an encoding or charset the parser refuses, the bound on
 * requests in flight) and no Origin (the CORS grant depends on it). Everything else goes to
 * Express unchanged.
 *
 * The answer is Express's own: the first refusal of each limiter key is answered by Express, and
 * its status, headers (in order, as written) and body become the template of the later ones, with
 * what changes per request filled in: the request id, the RateLimit `t=` and Retry-After (seconds
 * to the reset, as express-rate-limit computes them) and `Connection: close` while draining. The
 * request is counted as Express would count it: the HTTP metrics (route "unmatched", as a refusal
 * in the tenant router is), the access log and its sampling (an instance of its own, sampling one
 * in `sampleEvery` of these), the console's request count.
 *
 * What differs, on purpose:
 * - The body is not read (it is drained, so the keep-alive connection stays usable): a malformed
 *   or too deeply nested JSON body, which Express answers 400 before the rate limit, gets the 429.
 *   Both are refusals; the tenant is over its limit either way.
 * - The limiter's store is not asked, so a fast refusal is not counted in /v1/usage's `used`
 *   (see TenantRateLimit.status). With counters in Redis this is also what the fast path costs a
 *   multi-replica setup: each replica learns a spent window from a refusal of its own (one request
 *   per window per replica goes through Express and Redis), and a window shortened in Redis by
 *   hand (the key deleted) is still honoured here until its first reset; while Redis is
 *   unreachable a window known to be spent stays spent (the limit fails open only for windows
 *   not known).
 */
export interface FastRefusalOptions {
  /** The token cache's synchronous look-up (Authenticator.cachedIdentity). */
  cachedIdentity: (token: string, nowMs: number) => Identity | undefined;
  /** The bearer token of a request, read as the authenticator reads it. */
  bearerToken: (req: IncomingMessage) => string | undefined;
  /** Whether the limiter knows of any spent window now (TenantRateLimit.anySpent): the gate for every request. */
  anySpent: (nowMs: number) => boolean;
  /** The limiter's spent window for this caller (TenantRateLimit.spentWindow). */
  spentWindow: (
    identity: Identity,
    nowMs: number,
  ) => { key: string; untilMs: number; description: string } | undefined;
  /** Whether the bound on requests in flight would refuse this tenant (InFlightBound.full). */
  inFlightFull: (tenantId: string) => boolean;
  /** The edge's request counters, run as Express runs them: the HTTP metrics, then the access log. */
  httpMetrics: RequestHandler;
  accessLog: (req: IncomingMessage, res: ServerResponse) => void;
  /** The console's request count (what countAndLimit counts in the tenant router). */
  countRequest: (tenantId: string) => void;
  isDraining: () => boolean;
  /** Paths of the public routes (Express syntax); a `/v1/` path one of them may answer goes to Express. */
  publicPaths: string[];
  http: { requireHttps: boolean; trustProxy: number; bodyLimit: string };
  sandbox: boolean;
  /** The limiter's clock: express-rate-limit and the token cache read Date.now. */
  now?: () => number;
}

export interface FastRefusals {
  /** Answers the request and returns true, or returns false and leaves it to Express. */
  answer: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** Learns a template from a refusal the limiter answered (TenantRateLimit.onRefusal). */
  learn: (req: IncomingMessage, res: ServerResponse, window: { key: string; description: string }) => void;
}

/** What a header of the template holds: its value as written, or what is filled in per request. */
type TemplateHeader =
  | { name: string; kind: 'fixed'; value: string }
  | { name: string; kind: 'ratelimit'; prefix: string }
  | { name: string; kind: 'retry-after' };

interface Template {
  headers: TemplateHeader[];
  body: string;
}

/** Methods the fast path answers (HEAD and OPTIONS, preflights among them, go to Express). */
const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
const MAX_TEMPLATES = 10_000;
const RATE_LIMIT_VALUE = /^(".*"; r=0; t=)\d+$/;
const JSON_TYPE = /^application\/json\s*(;|$)/i;
const UTF8_CHARSET = /;\s*charset="?utf-8"?\s*(;|$)/i;

export function createFastRefusals(options: FastRefusalOptions): FastRefusals {
  const now = options.now ?? Date.now;
  const templates = new Map<string, Template>();
  const publicSegments = firstSegmentsOf(options.publicPaths);
  const bodyLimit = bytesOf(options.http.bodyLimit);

  /** A tenant route whose answer nothing before the limiter changes (see the module comment). */
  const eligible = (req: IncomingMessage, url: string): boolean => {
    if (!METHODS.has(req.method ?? '') || !url.startsWith('/v1/') || publicSegments === 'all') return false;
    const end = url.indexOf('/', 4);
    const query = url.indexOf('?', 4);
    const stop = Math.min(end === -1 ? url.length : end, query === -1 ? url.length : query);
    if (publicSegments.has(url.slice(4, stop).toLowerCase())) return false;
    const h = req.headers;
    if (h.origin !== undefined) return false;
    if (h['transfer-encoding'] !== undefined || h['content-encoding'] !== undefined) return false;
    if (h['content-length'] !== undefined && !(Number(h['content-length']) <= bodyLimit)) return false;
    const type = h['content-type'];
    if (type !== undefined && JSON_TYPE.test(type) && type.includes('charset') && !UTF8_CHARSET.test(type))
      return false;
    return !options.http.requireHttps || secure(req);
  };

  /** Express's req.secure under `trust proxy` = a number of hops, or the sandbox's loopback exemption. */
  const secure = (req: IncomingMessage): boolean => {
    if ((req.socket as TLSSocket).encrypted === true) return true;
    if (options.http.trustProxy > 0) {
      const forwarded = req.headers['x-forwarded-proto'];
      if (typeof forwarded === 'string' && forwarded.split(',', 1)[0]!.trim() === 'https') return true;
    }
    return options.sandbox && isLoopback(req.socket.remoteAddress);
  };

  const noop = () => undefined;

  return {
    answer(req, res) {
      const nowMs = now();
      if (!options.anySpent(nowMs) || !eligible(req, req.url ?? '')) return false;
      const token = options.bearerToken(req);
      if (token === undefined) return false;
      const identity = options.cachedIdentity(token, nowMs);
      if (!identity || options.inFlightFull(identity.tenantId)) return false;
      const window = options.spentWindow(identity, nowMs);
      const template = window && templates.get(window.key);
      if (!window || !template) return false;

      // In the order the Express edge runs: metrics, the drain's Connection, the access log (which
      // sets X-Request-Id), then the rest of the answer's headers as Express wrote them.
      // The metrics are Express middleware that read only what Node's request and response have.
      const asExpress = [req, res] as unknown as Parameters<RequestHandler>;
      void options.httpMetrics(asExpress[0], asExpress[1], noop);
      if (options.isDraining()) res.setHeader('Connection', 'close');
      options.accessLog(req, res);
      options.countRequest(identity.tenantId);
      // express-rate-limit's getResetSeconds: whole seconds to the reset, rounded up.
      const seconds = String(Math.max(0, Math.ceil((window.untilMs - nowMs) / 1000)));
      for (const header of template.headers) {
        if (header.kind === 'fixed') res.setHeader(header.name, header.value);
        else if (header.kind === 'ratelimit') res.setHeader(header.name, header.prefix + seconds);
        else res.setHeader(header.name, seconds);
      }
      res.statusCode = 429;
      // The body is not needed; reading it to the end keeps the connection usable.
      req.resume();
      res.end(template.body);
      return true;
    },

    learn(req, res, window) {
      // Inside the tenant router Express has cut the mount path off req.url; originalUrl is the path.
      const url = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '';
      if (templates.has(window.key) || !eligible(req, url)) return;
      res.once('finish', () => {
        const template = templateOf(res, window.description);
        if (!template) return;
        templates.set(window.key, template);
        // One per limiter key (each refused end user has one): the oldest dropped past the bound,
        // which only sends that key's next refusal through Express again.
        if (templates.size > MAX_TEMPLATES) templates.delete(templates.keys().next().value!);
      });
    },
  };
}

/**
 * The template of a refusal as Express wrote it, or undefined when it is not one this module can
 * reproduce (another status, another body, a header it does not know how to fill in, headers in an
 * order the fast path would not write), in which case that key stays with Express.
 */
function templateOf(res: ServerResponse, description: string): Template | undefined {
  if (res.statusCode !== 429) return undefined;
  const body = JSON.stringify(failure('OVER_LIMIT', description));
  if (res.getHeader('content-length') !== String(Buffer.byteLength(body))) return undefined;
  // Names as written (case and order); Node has it on every OutgoingMessage, @types/node only on ClientRequest.
  const written = (res as ServerResponse & { getRawHeaderNames(): string[] }).getRawHeaderNames();
  const names = written.filter((name) => name.toLowerCase() !== 'connection');
  if (names[0]?.toLowerCase() !== 'x-request-id') return undefined;
  const headers: TemplateHeader[] = [];
  for (const name of names.slice(1)) {
    const value = res.getHeader(name);
    if (typeof value !== 'string' && typeof value !== 'number') return undefined;
    const lower = name.toLowerCase();
    if (lower === 'date' || lower === 'x-request-id') return undefined;
    if (lower === 'ratelimit') {
      const match = RATE_LIMIT_VALUE.exec(String(value));
      if (!match) return undefined;
      headers.push({ name, kind: 'ratelimit', prefix: match[1]! });
    } else if (lower === 'retry-after') headers.push({ name, kind: 'retry-after' });
    else headers.push({ name, kind: 'fixed', value: String(value) });
  }
  return { headers, body };
}

/**
 * The first path segments after `/v1/` of the public routes, lower-cased (Express matches paths
 * case-insensitively): a request under one of them goes to Express, whichever method or rest of
 * the path (a public route may answer it). 'all' when a public route's first segment is a parameter.
 */
function firstSegmentsOf(paths: string[]): Set<string> | 'all' {
  const segments = new Set<string>();
  for (const path of paths) {
    if (!/^\/v1([/{]|$)/i.test(path)) continue;
    const segment = /^\/v1\/([^/{?]*)/i.exec(path)?.[1] ?? '';
    if (segment === '' || /[:*(]/.test(segment)) return 'all';
    segments.add(segment.toLowerCase());
  }
  // Paths with a CORS policy of their own (src/auth/cors.ts): their answers carry no Vary: Origin.
  for (const own of ['forms', 'callbacks', 'auth']) segments.add(own);
  return segments;
}

/** body-parser's limit in bytes (the `bytes` package's units: b, kb, mb, powers of 1024). */
function bytesOf(limit: string): number {
  const match = /^(\d+)(b|kb|mb)$/.exec(limit);
  if (!match) return 0;
  const unit = { b: 1, kb: 1024, mb: 1024 * 1024 }[match[2] as 'b' | 'kb' | 'mb'];
  return Number(match[1]) * unit;
}
