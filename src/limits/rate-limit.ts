import type { Request, RequestHandler, Response } from 'express';
import { rateLimit, type RateLimitInfo, type RateLimitRequestHandler } from 'express-rate-limit';
import type { Identity } from '../auth';
import type { Config } from '../config';
import { ApiError } from '../http';
import type { Logger } from '../observability';
import { createLimiterStores } from './stores';

export interface TenantRateLimitOptions {
  tenants: Config['tenants'];
  /** When set, counters live in Redis and are shared by every replica. */
  redisUrl?: string;
  keyPrefix: string;
  logger: Logger;
}

/** A tenant's request rate limit and where its current window stands. */
export interface RateLimitStatus {
  requests: number;
  windowSec: number;
  /** Requests counted in the current window; null while the counters (Redis) cannot be read. */
  used: number | null;
  remaining: number | null;
  /** When the current window ends; null when no window is open (or the counters cannot be read). */
  resetsAt: string | null;
}

/**
 * A window known to be spent: its limiter refused a request in it. A fixed window's count only
 * grows until its reset (both stores: the memory store's per-key window, rate-limit-redis's
 * INCR + PEXPIRE set once), so every request counted in it before `untilMs` is refused too.
 */
export interface SpentWindow {
  /** Which limiter and key (`rate:<tenant>:<tenant>`, `rate-user:<tenant>:<sub>`). */
  key: string;
  /** When the window ends, in wall-clock ms: express-rate-limit's clock (Date.now), not the injected one. */
  untilMs: number;
  /** The refusal's description in the error envelope. */
  description: string;
}

/** Told of every refusal the limiter answers itself, with its request and response. */
export type RefusalListener = (req: Request, res: Response, window: SpentWindow) => void;

export interface TenantRateLimit {
  middleware: RequestHandler;
  /**
   * The spent window that refuses this caller's next request now, if one is known (synchronous:
   * for the refusals answered before Express, src/http/fast-refusal.ts). An end user with a limit of
   * their own is judged by it alone: while it is not spent, the request goes on to count against
   * it (an answer only the limiter can give), even if the tenant's window is spent.
   */
  spentWindow: (identity: Identity, nowMs: number) => SpentWindow | undefined;
  /** Adds a listener told of each refusal the limiter answers (its answer is the template of the fast ones). */
  onRefusal: (listener: RefusalListener) => void;
  /**
   * Whether any window is known to be spent now: lets every other request skip the look-up
   * (hashing its token) while nobody is being refused. Expired windows are swept here, once a second.
   */
  anySpent: (nowMs: number) => boolean;
  /**
   * A property, not a method: /v1/usage holds it as a callback. With `endUser`, that user's own
   * limit inside the tenant (tenants.<id>.perUser.rateLimit; undefined when there is none).
   */
  status: (tenantId: string, endUser?: string) => Promise<RateLimitStatus | undefined>;
  close(): void;
}

/** Spent windows remembered at once (one per refused tenant or end user). */
const MAX_SPENT_WINDOWS = 10_000;

/**
 * Each tenant's request rate (tenants.<id>.rateLimit), counted per tenant after authentication,
 * answered with 429 OVER_LIMIT, Retry-After and the IETF draft-8 RateLimit / RateLimit-Policy
 * headers (the legacy X-RateLimit-* are off). Redis outage policy: fail open — the request is
 * let through, because every provider call still passes the upstream budget, which holds the
 * account's cap on its own (falling back to a local share of it).
 */
export function createTenantRateLimit(options: TenantRateLimitOptions): TenantRateLimit {
  const stores = createLimiterStores({
    redisUrl: options.redisUrl,
    keyPrefix: options.keyPrefix,
    logger: options.logger,
    purpose: 'tenant rate limits',
    whileDown: 'requests are let through, not counted,',
  });

  // Spent windows by limiter and key, each until its reset; at most MAX_SPENT_WINDOWS (the oldest
  // dropped first: losing one only sends that caller's refusals through Express again).
  const spent = new Map<string, SpentWindow>();
  const listeners: RefusalListener[] = [];
  const remember = (req: Request, res: Response, prefix: string, description: string) => {
    const info = (req as Request & { rateLimit?: RateLimitInfo }).rateLimit;
    if (!(info?.resetTime instanceof Date)) return;
    const window: SpentWindow = {
      key: `${prefix}${info.key}`,
      untilMs: info.resetTime.getTime(),
      description,
    };
    spent.delete(window.key);
    spent.set(window.key, window);
    if (spent.size > MAX_SPENT_WINDOWS) spent.delete(spent.keys().next().value!);
    for (const listener of listeners) listener(req, res, window);
  };
  let sweptAt = 0;
  const anySpent = (nowMs: number) => {
    if (spent.size === 0) return false;
    if (nowMs - sweptAt >= 1000) {
      sweptAt = nowMs;
      for (const [key, window] of spent) if (nowMs >= window.untilMs) spent.delete(key);
    }
    return spent.size > 0;
  };
  const spentNow = (key: string, nowMs: number) => {
    const window = spent.get(key);
    if (window && nowMs >= window.untilMs) {
      spent.delete(key);
      return undefined;
    }
    return window;
  };

  const limiterOf = (
    { requests, windowSec }: { requests: number; windowSec: number },
    prefix: string,
    keyOf: (req: Request) => string,
    who: string,
  ) => {
    const store = stores.storeFor(prefix);
    return rateLimit({
      windowMs: windowSec * 1000,
      limit: requests,
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      keyGenerator: keyOf,
      passOnStoreError: true,
      logger: stores.rateLimitLogger,
      // Keyed by tenant or user, not by IP: the IP-oriented start-up checks do not apply.
      validate: { ip: false, keyGeneratorIpFallback: false, trustProxy: false, xForwardedForHeader: false },
      ...(store ? { store } : {}),
      handler: (req, res, next) => {
        const description = `rate limit: ${who} may make ${requests} requests per ${windowSec} s; retry after the Retry-After delay`;
        remember(req, res, prefix, description);
        next(new ApiError('OVER_LIMIT', description));
      },
    });
  };
  const limiters = new Map<string, RateLimitRequestHandler>();
  const userLimiters = new Map<string, RateLimitRequestHandler>();
  for (const [tenantId, tenant] of Object.entries(options.tenants)) {
    limiters.set(
      tenantId,
      limiterOf(tenant.rateLimit, `rate:${tenantId}:`, () => tenantId, 'this tenant'),
    );
    const perUser = tenant.perUser.rateLimit;
    if (perUser) {
      // Keyed by the token's sub (in Redis under a prefix of its own, so no sub can be a tenant's key).
      const userOf = (req: Request) => (req.user as Identity | undefined)?.endUser ?? '';
      userLimiters.set(
        tenantId,
        limiterOf(perUser, `rate-user:${tenantId}:`, userOf, 'each user of this tenant'),
      );
    }
  }
  const run = (limiter: RateLimitRequestHandler, req: Request, res: Response) =>
    new Promise<unknown>((resolve) => void limiter(req, res, (error?: unknown) => resolve(error)));

  return {
    // An end user's own limit first: a request it refuses costs the tenant's budget nothing, so
    // one user cannot spend the tenant's rate. Then the tenant's (whose headers the answer shows).
    middleware: (req, res, next) => {
      const identity = req.user as Identity | undefined;
      const limiter = identity ? limiters.get(identity.tenantId) : undefined;
      const userLimiter = identity?.endUser ? userLimiters.get(identity.tenantId) : undefined;
      if (!limiter) {
        next();
        return;
      }
      if (!userLimiter) {
        void limiter(req, res, next);
        return;
      }
      void run(userLimiter, req, res).then((refused) => {
        if (refused !== undefined) next(refused);
        else void limiter(req, res, next);
      });
    },

    spentWindow(identity, nowMs) {
      const { tenantId, endUser } = identity;
      if (endUser !== undefined && userLimiters.has(tenantId))
        return spentNow(`rate-user:${tenantId}:${endUser}`, nowMs);
      return limiters.has(tenantId) ? spentNow(`rate:${tenantId}:${tenantId}`, nowMs) : undefined;
    },

    onRefusal(listener) {
      listeners.push(listener);
    },

    anySpent,

    // `used` is the store's count. A refusal answered before Express (a spent window, see
    // spentWindow) is not counted: the store is not asked, which is what makes it cheap, and the
    // answer cannot change before the reset. So in a spent window `used` stays at the count of the
    // requests the limiter saw (the limit plus the refusals it answered itself, usually one per
    // replica) and `remaining` at 0; the console's request chart counts every request.
    async status(tenantId, endUser) {
      const tenant = Object.hasOwn(options.tenants, tenantId) ? options.tenants[tenantId] : undefined;
      const limiter = endUser === undefined ? limiters.get(tenantId) : userLimiters.get(tenantId);
      const limits = endUser === undefined ? tenant?.rateLimit : tenant?.perUser.rateLimit;
      if (!tenant || !limiter || !limits) return undefined;
      const { requests, windowSec } = limits;
      let counter: Awaited<ReturnType<RateLimitRequestHandler['getKey']>>;
      try {
        // The store's own count (in Redis: the one every replica shares), read without counting.
        counter = await limiter.getKey(endUser ?? tenantId);
      } catch (error) {
        stores.storeFailed(error);
        return { requests, windowSec, used: null, remaining: null, resetsAt: null };
      }
      // Both stores keep reset times on the wall clock (express-rate-limit takes no clock), and may
      // still hold a window that has ended (memory: until its sweep; Redis: no key reads as NaN).
      const resetTime = counter?.resetTime;
      const open = resetTime !== undefined && resetTime.getTime() > Date.now();
      const used = open && Number.isFinite(counter?.totalHits) ? (counter?.totalHits ?? 0) : 0;
      return {
        requests,
        windowSec,
        used,
        remaining: Math.max(0, requests - used),
        resetsAt: open && used > 0 ? resetTime.toISOString() : null,
      };
    },

    close: stores.close,
  };
}
