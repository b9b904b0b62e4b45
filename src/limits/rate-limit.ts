import type { RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { Identity } from '../auth';
import type { Config } from '../config';
import { ApiError } from '../http/errors';
import { createLimiterStores } from './stores';

export interface TenantRateLimitOptions {
  tenants: Config['tenants'];
  /** When set, counters live in Redis and are shared by every replica. */
  redisUrl?: string;
  keyPrefix: string;
}

export interface TenantRateLimit {
  middleware: RequestHandler;
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
  const stores = createLimiterStores(options.redisUrl, options.keyPrefix);

  const limiters = new Map<string, RequestHandler>();
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
    close: stores.close,
  };
}
