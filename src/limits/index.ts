// Limits: each tenant's request rate and segment quotas, in memory or shared through Redis.
export {
  createTenantRateLimit,
  type TenantRateLimit,
  type TenantRateLimitOptions,
  type RateLimitStatus,
} from './rate-limit';
export { createQuotaService, type QuotaService, type QuotaStatus, type QuotaReservation } from './quota';
export { dayPeriod, monthPeriod, type Period } from './periods';
export { usageRoutes, quotaUsage } from './routes';
export { createLimiterStores, type LimiterStores, type LimiterStoresOptions } from './stores';
export { boundInFlight, type InFlightBound } from './in-flight';
