import type { RequestHandler } from 'express';
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
  /** A property, not a method: /v1/usage holds it as a callback. */
  status: (tenantId: string) => Promise<RateLimitStatus | undefined>;
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

  const limiters = new Map<string, RateLimitRequestHandler>();
  for (const [tenantId, tenant] of Object.entries(options.tenants)) {
    const { requests, windowSec } = tenant.rateLimit;
    const store = stores.storeFor(`rate:${tenantId}:`);
    limiters.set(
      tenantId,
      rateLimit({
        windowMs: windowSec * 1000,
        limit: requests,
        standardHeaders: 'draft-8',
        legacyHeaders: false,
        keyGenerator: () => tenantId,
        passOnStoreError: true,
        logger: stores.rateLimitLogger,
        // Keyed by tenant, not by IP: the IP-oriented start-up checks do not apply.
        validate: { ip: false, keyGeneratorIpFallback: false, trustProxy: false, xForwardedForHeader: false },
        ...(store ? { store } : {}),
        handler: (_req, _res, next) =>
          next(
            new ApiError(
              'OVER_LIMIT',
              `rate limit: this tenant may make ${requests} requests per ${windowSec} s; retry after the Retry-After delay`,
            ),
          ),
      }),
    );
  }

  return {
    middleware: (req, res, next) => {
      const tenantId = (req.user as Identity | undefined)?.tenantId;
      const limiter = tenantId ? limiters.get(tenantId) : undefined;
      if (limiter) void limiter(req, res, next);
      else next();
    },

    async status(tenantId) {
      const tenant = Object.hasOwn(options.tenants, tenantId) ? options.tenants[tenantId] : undefined;
      const limiter = limiters.get(tenantId);
      if (!tenant || !limiter) return undefined;
      const { requests, windowSec } = tenant.rateLimit;
      let counter: Awaited<ReturnType<RateLimitRequestHandler['getKey']>>;
      try {
        // The store's own count (in Redis: the one every replica shares), read without counting.
        counter = await limiter.getKey(tenantId);
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
