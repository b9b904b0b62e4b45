import jwt from 'jsonwebtoken';
import type { Config, Scope } from '../config';

export interface MintRequest {
  tenantId: string;
  scopes: Scope[];
  ttlSec: number;
  subject?: string;
}

/** Signs an HS256 token for one of the configured tenants (for internal teams and trying the gateway). */
export function mintToken(config: Config, request: MintRequest): string {
  if (!Object.hasOwn(config.tenants, request.tenantId))
    throw new Error(`--tenant: unknown tenant '${request.tenantId}'`);
  if (!config.auth.algorithms.includes('HS256') || !config.auth.jwtSecret) {
    throw new Error(
      'tokens can be minted only with HS256 and auth.jwtSecret; with a JWKS identity provider, ask it for a token',
    );
  }
  if (request.ttlSec > config.auth.maxTokenTtlSec) {
    throw new Error(`--ttl: at most ${config.auth.maxTokenTtlSec} seconds (auth.maxTokenTtlSec)`);
  }
  return jwt.sign(
    { [config.auth.tenantClaim]: request.tenantId, scope: request.scopes.join(' ') },
    config.auth.jwtSecret,
    {
      algorithm: 'HS256',
      expiresIn: request.ttlSec,
      ...(request.subject ? { subject: request.subject } : {}),
      ...(config.auth.issuer ? { issuer: config.auth.issuer } : {}),
      ...(config.auth.audience ? { audience: config.auth.audience } : {}),
    },
  );
}

/** Parses a lifetime such as 90, 30s, 15m, 12h or 1d into seconds. */
export function parseTtl(text: string): number {
  const match = /^([1-9][0-9]*)([smhd]?)$/.exec(text.trim());
  if (!match) throw new Error(`--ttl: expected a lifetime such as 15m, 1h or 900, got '${text}'`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}
