import { ApiError } from './errors';

/** A tenant named in a path or query (`?tenant=`) that must be configured: else 404 naming it. */
export function knownTenant(tenants: Record<string, unknown>, value: unknown): string {
  if (typeof value !== 'string' || !Object.hasOwn(tenants, value)) {
    throw new ApiError('NOT_FOUND', `tenant: no tenant '${String(value).slice(0, 64)}'`);
  }
  return value;
}

/** An optional `?tenant=` filter: absent → every tenant; present → a configured tenant, else 404. */
export function tenantFilter(tenants: Record<string, unknown>, value: unknown): string | undefined {
  return value === undefined ? undefined : knownTenant(tenants, value);
}
