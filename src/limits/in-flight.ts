import type { RequestHandler } from 'express';
import type { Identity } from '../auth';
import { ApiError } from '../http';

/**
 * A bound on one tenant's requests being answered at once on this replica. The rate limit counts
 * requests per window; this counts requests still open, so a tenant whose requests are slow (a
 * flood waiting for provider slots, thousand-recipient batches) cannot hold every connection and
 * all the memory while staying under its rate. Counted from authentication until the response is
 * finished or its connection closed. `max` 0 = no bound.
 */
export interface InFlightBound extends RequestHandler {
  /**
   * Whether this tenant's next request would be refused here (for the refusals answered before
   * Express, which leave such a request to this bound's own answer).
   */
  full: (tenantId: string) => boolean;
}

export function boundInFlight(max: number): InFlightBound {
  const open = new Map<string, number>();
  const bound: RequestHandler = (req, res, next) => {
    const tenantId = (req.user as Identity | undefined)?.tenantId;
    if (max === 0 || tenantId === undefined) {
      next();
      return;
    }
    const count = open.get(tenantId) ?? 0;
    if (count >= max) {
      next(
        new ApiError(
          'OVER_LIMIT',
          `in flight: this tenant already has ${max} requests being answered (http.maxInFlightPerTenant); retry after the Retry-After delay`,
          { 'Retry-After': '1' },
        ),
      );
      return;
    }
    open.set(tenantId, count + 1);
    res.once('close', () => {
      const left = (open.get(tenantId) ?? 1) - 1;
      if (left === 0) open.delete(tenantId);
      else open.set(tenantId, left);
    });
    next();
  };
  return Object.assign(bound, {
    full: (tenantId: string) => max !== 0 && (open.get(tenantId) ?? 0) >= max,
  });
}
