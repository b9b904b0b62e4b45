import type { RequestHandler } from 'express';
import { rateLimit, type Store } from 'express-rate-limit';
import Redis from 'ioredis';
import { RedisStore } from 'rate-limit-redis';
import type { Identity } from '../auth';
import type { Config } from '../config';
import { ApiError } from '../http/errors';

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
  // Commands queue while (re)connecting, so start-up does not count as an outage; during an
  // outage each one gives up after 500 ms and the request is let through (fail open).
  const redis = options.redisUrl
    ? new Redis(options.redisUrl, { maxRetriesPerRequest: 1, commandTimeout: 500 })
    : undefined;
  redis?.on('error', () => undefined);

  const limiters = new Map<string, RequestHandler>();
  for (const [tenantId, tenant] of Object.entries(options.tenants)) {
    const { requests, windowSec } = tenant.rateLimit;
    const store: Store | undefined = redis
      ? new RedisStore({
          prefix: `${options.keyPrefix}:rate:${tenantId}:`,
          sendCommand: (command: string, ...args: string[]) =>
            redis.call(command, ...args) as Promise<number>,
        })
      : undefined;
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
    close: () => redis?.disconnect(),
  };
}
