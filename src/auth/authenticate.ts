import { createSecretKey, hash, type KeyObject } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import jwt from 'jsonwebtoken';
import { passportJwtSecret } from 'jwks-rsa';
import { Passport } from 'passport';
import { ExtractJwt, Strategy as JwtStrategy, type StrategyOptionsWithRequest } from 'passport-jwt';
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

/**
 * The bearer-token check, and a synchronous look into its verified-token cache for the refusals
 * answered before Express (src/http/fast-refusal.ts).
 */
export interface Authenticator extends RequestHandler {
  /**
   * The identity of a token this authenticator has already verified and would accept now without
   * asking anyone (not expired: the same check a request makes); undefined otherwise. A token
   * verified against a JWKS is left out: a hit on it still asks the key set (asynchronously)
   * whether its key is there, and a removed key must answer 401, so it takes the normal path.
   * A property, not a method: it is handed on as a callback.
   */
  cachedIdentity: (token: string, nowMs: number) => Identity | undefined;
}

export function createAuthenticator(
  auth: AuthConfig,
  tenants: Config['tenants'],
  alsoTrusted?: TrustedIssuer,
): Authenticator {
  const passport = new Passport();
  const cache = new VerifiedTokens(auth.tokenCacheEntries);
  // What a verification learned about its request's token: its exp, and the JWKS key that verified it.
  const verified = new WeakMap<Request, { exp: number; key?: string }>();
  const keySet = (jwksUri: string) =>
    passportJwtSecret({
      jwksUri,
      cache: true,
      cacheMaxAge: auth.jwksCacheMaxAgeSec * 1000,
      rateLimit: true,
      jwksRequestsPerMinute: 10,
      timeout: 5_000,
    });
  const keySets: Record<Strategy, KeyProvider | undefined> = {
    jwt: auth.jwksUrl ? keySet(auth.jwksUrl) : undefined,
    'trusted-issuer': alsoTrusted ? keySet(alsoTrusted.jwksUrl) : undefined,
  };
  /** A key provider that remembers, for the cache, which key verified the request's token. */
  const remembering =
    (provider: KeyProvider) => (req: Request, raw: string, done: (error: unknown, key?: string) => void) =>
      provider(req, raw, (error, key) => {
        if (!error && typeof key === 'string') verified.set(req, { exp: 0, key });
        done(error, key as string | undefined);
      });
  const verify = (
    req: Request,
    payload: Record<string, unknown>,
    done: (error: unknown, user?: Identity | false, info?: unknown) => void,
  ) => {
    const problem = claimsProblem(payload, auth, tenants);
    if (typeof problem === 'string') {
      done(null, false, { message: problem });
      return;
    }
    verified.set(req, { ...verified.get(req), exp: payload.exp as number });
    done(null, problem);
  };
  const options: StrategyOptionsWithRequest = {
    jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
    algorithms: auth.algorithms,
    jsonWebTokenOptions: { clockTolerance: auth.clockToleranceSec },
    passReqToCallback: true,
    ...(auth.issuer ? { issuer: auth.issuer } : {}),
    ...(auth.audience ? { audience: auth.audience } : {}),
    ...(keySets.jwt
      ? { secretOrKeyProvider: remembering(keySets.jwt) }
      : { secretOrKey: requireSecret(auth) }),
  };
  passport.use('jwt', new JwtStrategy(options, verify));
  if (alsoTrusted && keySets['trusted-issuer']) {
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
          passReqToCallback: true,
          secretOrKeyProvider: remembering(keySets['trusted-issuer']),
        },
        verify,
      ),
    );
  }
  // Which verifier a token goes to, by its (still unverified) issuer; that verifier then checks
  // the signature, issuer and audience in full, so a forged `iss` only picks who refuses it.
  const strategyFor = (token: string | undefined): Strategy =>
    alsoTrusted && issuerOf(token ?? null) === alsoTrusted.issuer ? 'trusted-issuer' : 'jwt';

  function viaPassport(req: Request, res: Response, next: NextFunction, token: string | undefined): void {
    const strategy = strategyFor(token);
    const handler = passport.authenticate(
      strategy,
      { session: false },
      (error: unknown, identity: Identity | false, info: unknown) => {
        if (error || !identity) {
          next(new ApiError('AUTH_FAILED', `Authorization: ${describeRejection(error ?? info)}`));
          return;
        }
        const learned = verified.get(req);
        if (token !== undefined && learned) {
          // Valid until jsonwebtoken would call it expired: exp + the clock tolerance (system clock).
          cache.set(token, {
            identity,
            untilMs: (learned.exp + auth.clockToleranceSec) * 1000,
            key: learned.key,
            strategy,
          });
        }
        req.user = identity;
        next();
      },
    ) as RequestHandler;
    handler(req, res, next);
  }

  const authenticate = (req: Request, res: Response, next: NextFunction) => {
    const token = bearerToken(req);
    const hit = token === undefined ? undefined : cache.get(token, Date.now());
    if (!hit || token === undefined) {
      viaPassport(req, res, next, token);
      return;
    }
    const provider = keySets[hit.strategy];
    if (!provider) {
      req.user = hit.identity;
      next();
      return;
    }
    // A JWKS token stays good only while the key set still holds the key that verified it (the
    // same cached lookup a full verification makes, so a removed key ends the token as before).
    provider(req, token, (error, key) => {
      if (error || key !== hit.key) {
        cache.delete(token);
        viaPassport(req, res, next, token);
        return;
      }
      req.user = hit.identity;
      next();
    });
  };
  return Object.assign(authenticate, {
    cachedIdentity(token: string, nowMs: number): Identity | undefined {
      const hit = cache.get(token, nowMs);
      return hit && !keySets[hit.strategy] ? hit.identity : undefined;
    },
  });
}

type Strategy = 'jwt' | 'trusted-issuer';
type KeyProvider = ReturnType<typeof passportJwtSecret>;

/** The token as passport-jwt's fromAuthHeaderAsBearerToken reads it (`Bearer <token>`, any case). */
export function bearerToken(req: Pick<IncomingMessage, 'headers'>): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^(\S+)\s+(\S+)$/.exec(header);
  return match && match[1]!.toLowerCase() === 'bearer' ? match[2] : undefined;
}

interface CachedToken {
  identity: Identity;
  /** Wall-clock ms after which jsonwebtoken would refuse the token as expired. */
  untilMs: number;
  /** The JWKS key (PEM) that verified it; undefined for the gateway's own HS256 secret. */
  key: string | undefined;
  /** Which verifier accepted it (whose key set a hit is checked against). */
  strategy: Strategy;
}

/**
 * Tokens already verified, by the SHA-256 of the token (the token itself is not kept), each until
 * its exp; at most `capacity`, the oldest dropped first. Verifying a JWT (HMAC or RSA plus claims,
 * through passport) was ~14 % of the CPU of answering a flooding tenant's 429s; a hit is a hash
 * and a map lookup. Hand-rolled over a Map (insertion order): the only policy needed is
 * "drop the oldest", and lru-cache is not a direct dependency.
 */
class VerifiedTokens {
  private readonly entries = new Map<string, CachedToken>();

  constructor(private readonly capacity: number) {}

  get(token: string, nowMs: number): CachedToken | undefined {
    if (this.capacity === 0) return undefined;
    const key = digest(token);
    const entry = this.entries.get(key);
    if (entry && nowMs >= entry.untilMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  set(token: string, entry: CachedToken): void {
    if (this.capacity === 0) return;
    const key = digest(token);
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  delete(token: string): void {
    this.entries.delete(digest(token));
  }
}

// crypto.hash, one call: a third of createHash().update().digest()'s cost (no Hash object), every request.
const digest = (token: string) => hash('sha256', token, 'base64');

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
  const subject = typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : undefined;
  return {
    tenantId,
    scopes,
    subject,
    endUser: scopes.includes('sms:read:all') ? undefined : subject,
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
