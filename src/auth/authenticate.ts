import { createSecretKey, type KeyObject } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import jwt from 'jsonwebtoken';
import { passportJwtSecret } from 'jwks-rsa';
import { Passport } from 'passport';
import { ExtractJwt, Strategy as JwtStrategy, type StrategyOptionsWithoutRequest } from 'passport-jwt';
import type { Config, Scope } from '../config';
import { ApiError } from '../http';
import { claimAt } from './claims';
import type { Identity } from './identity';

type AuthConfig = Config['auth'];

/**
 * Bearer-token authentication with passport-jwt. The accepted algorithms come from config, never
 * from the token: HS256 with the gateway's own secret, or RS256/ES256 with keys from the identity
 * provider's JWKS (issuer and audience then required). Tokens must carry `exp` and live at most
 * auth.maxTokenTtlSec; the tenant comes from a configurable claim and must be declared in config.
 */
/**
 * An identity provider trusted beside the one auth.* configures: the sandbox's stand-in (sandbox
 * mode only), whose RS256 tokens are told apart by their `iss` and verified against its own JWKS,
 * issuer and audience, while HS256 tokens (`npm run token`) keep working as before.
 */
export interface TrustedIssuer {
  issuer: string;
  jwksUrl: string;
  audience: string;
}

export function createAuthenticator(
  auth: AuthConfig,
  tenants: Config['tenants'],
  alsoTrusted?: TrustedIssuer,
): RequestHandler {
  const passport = new Passport();
  const options: StrategyOptionsWithoutRequest = {
    jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
    algorithms: auth.algorithms,
    jsonWebTokenOptions: { clockTolerance: auth.clockToleranceSec },
    ...(auth.issuer ? { issuer: auth.issuer } : {}),
    ...(auth.audience ? { audience: auth.audience } : {}),
    ...(auth.jwksUrl
      ? {
          secretOrKeyProvider: passportJwtSecret({
            jwksUri: auth.jwksUrl,
            cache: true,
            cacheMaxAge: 10 * 60_000,
            rateLimit: true,
            jwksRequestsPerMinute: 10,
            timeout: 5_000,
          }),
        }
      : { secretOrKey: requireSecret(auth) }),
  };

  const verify = (
    payload: Record<string, unknown>,
    done: (error: unknown, user?: Identity | false, info?: unknown) => void,
  ) => {
    const problem = claimsProblem(payload, auth, tenants);
    if (typeof problem === 'string') done(null, false, { message: problem });
    else done(null, problem);
  };
  passport.use('jwt', new JwtStrategy(options, verify));
  if (alsoTrusted) {
    passport.use(
      'trusted-issuer',
      new JwtStrategy(
        {
          jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
          // Only the asymmetric family: its public keys can never be replayed as an HMAC secret.
          algorithms: ['RS256'],
          issuer: alsoTrusted.issuer,
          audience: alsoTrusted.audience,
          jsonWebTokenOptions: { clockTolerance: auth.clockToleranceSec },
          secretOrKeyProvider: passportJwtSecret({
            jwksUri: alsoTrusted.jwksUrl,
            cache: true,
            cacheMaxAge: 10 * 60_000,
            rateLimit: true,
            jwksRequestsPerMinute: 10,
            timeout: 5_000,
          }),
        },
        verify,
      ),
    );
  }
  // Which verifier a token goes to, by its (still unverified) issuer; that verifier then checks
  // the signature, issuer and audience in full, so a forged `iss` only picks who refuses it.
  const strategyFor = (req: Request) =>
    alsoTrusted && issuerOf(ExtractJwt.fromAuthHeaderAsBearerToken()(req)) === alsoTrusted.issuer
      ? 'trusted-issuer'
      : 'jwt';

  return (req: Request, res: Response, next: NextFunction) => {
    const handler = passport.authenticate(
      strategyFor(req),
      { session: false },
      (error: unknown, identity: Identity | false, info: unknown) => {
        if (error || !identity) {
          next(new ApiError('AUTH_FAILED', `Authorization: ${describeRejection(error ?? info)}`));
          return;
        }
        req.user = identity;
        next();
      },
    ) as RequestHandler;
    handler(req, res, next);
  };
}

function issuerOf(token: string | null): unknown {
  if (!token) return undefined;
  const payload = jwt.decode(token, { json: true });
  return payload?.iss;
}

/**
 * A KeyObject built once: given a string or Buffer, jsonwebtoken builds one on every verification
 * (8% of the gateway's CPU in bench/overhead). passport-jwt hands the key to jsonwebtoken as is,
 * which accepts a KeyObject; only passport-jwt's type declaration is narrower.
 */
function requireSecret(auth: AuthConfig): Buffer {
  if (!auth.jwtSecret) throw new Error('auth.jwtSecret is required for HS256 tokens');
  const key: KeyObject = createSecretKey(Buffer.from(auth.jwtSecret, 'utf8'));
  return key as unknown as Buffer;
}

/** Returns the caller's identity, or why the token's claims are not acceptable. */
function claimsProblem(
  payload: Record<string, unknown>,
  auth: AuthConfig,
  tenants: Config['tenants'],
): Identity | string {
  if (typeof payload.exp !== 'number') return 'token has no exp claim';
  const lifetime = lifetimeProblem(payload.exp, payload.iat, auth);
  if (lifetime) return lifetime;
  const tenantId = claimAt(payload, auth.tenantClaim);
  if (typeof tenantId !== 'string' || tenantId === '') return `token has no ${auth.tenantClaim} claim`;
  const tenant = Object.hasOwn(tenants, tenantId) ? tenants[tenantId] : undefined;
  if (!tenant) return `unknown tenant '${tenantId.slice(0, 64)}'`;
  const requested = typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
  const scopes = tenant.scopes.filter((scope: Scope) => requested.includes(scope));
  // sms:read:all includes sms:read: routes that read name sms:read and narrow by subject without :all.
  if (scopes.includes('sms:read:all') && !scopes.includes('sms:read')) scopes.push('sms:read');
  const phone = claimAt(payload, auth.phoneNumberClaim);
  return {
    tenantId,
    scopes,
    subject: typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : undefined,
    phoneNumber: typeof phone === 'string' ? phone : undefined,
    phoneNumberVerified: claimAt(payload, auth.phoneNumberVerifiedClaim) === true,
  };
}

/**
 * A token may live at most auth.maxTokenTtlSec (exp - iat), and may not claim to be issued later
 * than now plus the clock tolerance: otherwise a leaked token works for a century. iat is optional
 * in JWT (RFC 7519), so a token without one is bounded by what is left of it instead: exp at most
 * maxTokenTtlSec ahead. Judged against the same clock jsonwebtoken uses for exp and nbf (the
 * system's), so one token's times are never compared with two clocks.
 */
function lifetimeProblem(exp: number, iat: unknown, auth: AuthConfig): string | undefined {
  const now = Date.now() / 1000;
  const max = auth.maxTokenTtlSec;
  if (iat === undefined) {
    return exp - now > max + auth.clockToleranceSec
      ? `token without iat expires more than ${max} s ahead (auth.maxTokenTtlSec)`
      : undefined;
  }
  if (typeof iat !== 'number' || !Number.isFinite(iat)) return 'token iat claim is not a number';
  if (iat > now + auth.clockToleranceSec) return 'token issued in the future';
  if (exp - iat > max) return `token lifetime (exp - iat) is over ${max} s (auth.maxTokenTtlSec)`;
  return undefined;
}

/** Turns passport-jwt / jsonwebtoken / jwks-rsa rejections into a short, safe sentence. */
function describeRejection(reason: unknown): string {
  const message =
    reason instanceof Error ? reason.message : (reason as { message?: unknown } | undefined)?.message;
  const text = typeof message === 'string' ? message : '';
  if (text === 'No auth token') return 'a bearer token is required';
  if (text === 'jwt expired') return 'token expired';
  if (text === 'invalid signature') return 'token signature is invalid';
  if (text.startsWith('invalid algorithm') || text === 'jwt signature is required')
    return 'token algorithm is not accepted';
  if (text.startsWith('jwt audience invalid')) return 'token audience is not accepted';
  if (text.startsWith('jwt issuer invalid')) return 'token issuer is not accepted';
  if (text === 'jwt not active') return 'token is not valid yet';
  if (text === 'jwt malformed' || text.startsWith('invalid token') || text.startsWith('Unexpected token'))
    return 'token is malformed';
  if (/kid|signing key|jwks/i.test(text)) return 'no matching signing key';
  return text.length > 0 && text.length <= 80 && !/[\r\n]/.test(text) ? text : 'token rejected';
}

/**
 * Deny by default: every non-public route names what it needs, any valid token (`authenticated`)
 * or a scope. The route table puts this in front of each such route.
 */
export function requireAccess(access: Scope | 'authenticated'): RequestHandler {
  return (req, _res, next) => {
    const identity = req.user as Identity | undefined;
    if (!identity) next(new ApiError('AUTH_FAILED', 'Authorization: a bearer token is required'));
    else if (access !== 'authenticated' && !identity.scopes.includes(access))
      next(new ApiError('FORBIDDEN', `scope: this route needs '${access}'`));
    else next();
  };
}
