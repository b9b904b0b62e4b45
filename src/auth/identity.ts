import type { Request } from 'express';
import type { Scope } from '../config';
import { ApiError } from '../http';

/** Who is calling: the tenant the token names and the scopes it may use. */
export interface Identity {
  tenantId: string;
  scopes: Scope[];
  subject: string | undefined;
}

export function identityOf(req: Request): Identity {
  const identity = req.user as Identity | undefined;
  if (!identity) throw new ApiError('AUTH_FAILED', 'Authorization: a bearer token is required');
  return identity;
}
