import type { Request } from 'express';
import type { Scope } from '../config';
import { ApiError } from '../http';

/** Who is calling: the tenant the token names and the scopes it may use. */
export interface Identity {
  tenantId: string;
  scopes: Scope[];
  /** The token's `sub`: the end user (or backend) inside the tenant; recorded on what it sends. */
  subject: string | undefined;
  /** The token's phone-number claim (auth.phoneNumberClaim), when it has one. */
  phoneNumber?: string | undefined;
  /** True only when the phone-number-verified claim is the boolean true. */
  phoneNumberVerified?: boolean;
}

export function identityOf(req: Request): Identity {
  const identity = req.user as Identity | undefined;
  if (!identity) throw new ApiError('AUTH_FAILED', 'Authorization: a bearer token is required');
  return identity;
}

/** Whether the caller reads the whole tenant (sms:read:all) or only what its own `sub` sent. */
export function readsWholeTenant(identity: Identity): boolean {
  return identity.scopes.includes('sms:read:all');
}

/**
 * What the caller may read: the whole tenant, or only rows recorded with its subject. A token
 * without `sub` owns the rows recorded without one (a backend's, forms' replies aside).
 */
export interface ReadScope {
  tenantId: string;
  /** undefined: the whole tenant; otherwise rows whose subject is this (null: rows without one). */
  subject: string | null | undefined;
}

export function readScopeOf(identity: Identity): ReadScope {
  return readsWholeTenant(identity)
    ? { tenantId: identity.tenantId, subject: undefined }
    : { tenantId: identity.tenantId, subject: identity.subject ?? null };
}
