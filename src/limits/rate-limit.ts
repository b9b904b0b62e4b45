import type { Request, RequestHandler, Response } from 'express';
import { rateLimit, type RateLimitRequestHandler } from 'express-rate-limit';
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

export interface TenantRateLimit {
  middleware: RequestHandler;
  /**
   * A property, not a method: /v1/usage holds it as a callback. With `endUser`, that user's own
   * limit inside the tenant (tenants.<id>.perUser.rateLimit; undefined when there is none).
   */
  status: (tenantId: string, endUser?: string) => Promise<RateLimitStatus | undefined>;
  close(): void;
}

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
      handler: (_req, _res, next) =>
        next(
          new ApiError(
            'OVER_LIMIT',
            `rate limit: ${who} may make ${requests} requests per ${windowSec} s; retry after the Retry-After delay`,
          ),
        ),
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
