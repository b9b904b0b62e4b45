// Limits: each tenant's request rate and segment quotas, in memory or shared through Redis.
export { createTenantRateLimit, type TenantRateLimit, type TenantRateLimitOptions } from './rate-limit';
