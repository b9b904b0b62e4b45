import { generateKeyPair, randomBytes, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import express, { type Request, type Response } from 'express';
import jwt from 'jsonwebtoken';
import { systemClock, type Clock } from '../clock';

export interface IdentityProviderOptions {
  /** The `aud` of every token it issues (the gateway checks it). */
  audience: string;
  /** The tenant every user of the login page belongs to, and the claim it goes in. */
  tenant: string;
  tenantClaim?: string;
  /** The `scope` claim of every token. */
  scopes: string[];
  /** Token lifetime (default 15 minutes). */
  ttlSec?: number;
  clock?: Clock;
}

export interface IdentityProvider {
  /** Its origin, which is also the `iss` of its tokens, e.g. http://127.0.0.1:4011 (after start). */
  readonly issuer: string;
  readonly jwksUrl: string;
  /** Where an app sends its users to sign in (OAuth 2.0 implicit grant, `response_type=token`). */
  readonly authorizeUrl: string;
  /** Lets a client be sent back to `origin` (redirect URIs on any other origin are refused). */
  allowRedirectOrigin(origin: string): void;
  /** Issues a token as the login page would (for tests and scripts). */
  issueToken(user: SignInUser): Promise<string>;
  start(port?: number, host?: string): Promise<string>;
  stop(): Promise<void>;
}

export interface SignInUser {
  sub: string;
  phoneNumber?: string;
  phoneNumberVerified?: boolean;
}

const E164 = /^\+[1-9][0-9]{6,14}$/;
const USERNAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/**
 * A stand-in for a company's identity provider, for sandbox mode only: an RS256 key pair made on
 * first use (never written anywhere), its public half at `/.well-known/jwks.json`, an OpenID
 * discovery document, and a login page that signs anyone in — no password — as the user name and
 * phone number typed in, returning to the app with the access token in the URL fragment. Tokens
 * carry `sub`, the tenant claim, `phone_number` and `phone_number_verified` (OpenID Connect standard
 * claims) and `scope`, as a real identity provider configured for smsgate would issue them.
 *
 * It keeps to what a browser app needs to sign in, so it is small: the implicit grant rather than
 * the authorization-code flow with PKCE that a real provider should be used with; a real
 * provider's consent, sessions and refresh tokens are out of its scope.
 */
export function createIdentityProvider(options: IdentityProviderOptions): IdentityProvider {
  const clock = options.clock ?? systemClock;
  const tenantClaim = options.tenantClaim ?? 'tenant';
  const ttlSec = options.ttlSec ?? 900;
  const redirectOrigins = new Set<string>();
  let server: Server | undefined;
  let issuer = '';
  let keys: Promise<{ privateKey: KeyObject; publicKey: KeyObject; kid: string }> | undefined;
  // Made on first use: a gateway that nobody signs in to never spends the CPU on an RSA key.
  const keyPair = () =>
    (keys ??= promisify(generateKeyPair)('rsa', { modulusLength: 2048 }).then((pair) => ({
      ...pair,
      kid: randomBytes(8).toString('hex'),
    })));

  async function issueToken(user: SignInUser): Promise<string> {
    const { privateKey, kid } = await keyPair();
    const now = Math.floor(clock.now() / 1000);
    const claims: Record<string, unknown> = {
      sub: user.sub,
      [tenantClaim]: options.tenant,
      scope: options.scopes.join(' '),
      iat: now,
      exp: now + ttlSec,
      ...(user.phoneNumber !== undefined
        ? { phone_number: user.phoneNumber, phone_number_verified: user.phoneNumberVerified === true }
        : {}),
    };
    return jwt.sign(claims, privateKey, {
      algorithm: 'RS256',
      keyid: kid,
      issuer,
      audience: options.audience,
    });
  }

  const app = express();
  app.disable('x-powered-by');
  app.use((_req, res, next) => {
    // Its pages load nothing but their own stylesheet and may not be framed (clickjacking).
    res.setHeader(
      'Content-Security-Policy',
      "default-src 'none'; style-src 'self'; base-uri 'none'; frame-ancestors 'none'",
    );
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    next();
  });
  app.get('/.well-known/openid-configuration', (_req, res) => {
    res.json({
      issuer,
      authorization_endpoint: `${issuer}/authorize`,
      jwks_uri: `${issuer}/.well-known/jwks.json`,
      response_types_supported: ['token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      claims_supported: ['sub', tenantClaim, 'phone_number', 'phone_number_verified', 'scope'],
    });
  });
  app.get('/.well-known/jwks.json', async (_req, res) => {
    const { publicKey, kid } = await keyPair();
    res.json({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }] });
  });
  // No icon: answered, so the browser does not log a 404 for it.
  app.get('/favicon.ico', (_req, res) => {
    res.status(204).end();
  });
  app.get('/login.css', (_req, res) => {
    res.type('text/css').send(LOGIN_CSS);
  });
  app.get('/authorize', (req, res) => {
    const request = authorizationRequest(req, redirectOrigins);
    if (typeof request === 'string') return refuse(res, request);
    res.type('html').setHeader('Cache-Control', 'no-store').send(loginPage(request, options.tenant));
  });
  app.post('/authorize', express.urlencoded({ extended: false, limit: '4kb' }), async (req, res) => {
    const request = authorizationRequest(req, redirectOrigins);
    if (typeof request === 'string') return refuse(res, request);
    const body = req.body as Record<string, unknown>;
    const username = typeof body.username === 'string' ? body.username.trim().toLowerCase() : '';
    const phone = typeof body.phone_number === 'string' ? body.phone_number.replace(/[\s()-]/g, '') : '';
    const problem = !USERNAME.test(username)
      ? 'User name: 1–64 lower-case letters, digits, dots, dashes or underscores'
      : phone !== '' && !E164.test(phone)
        ? 'Phone number: in international form, such as +61412345678'
        : undefined;
    if (problem) {
      res
        .status(400)
        .type('html')
        .send(loginPage(request, options.tenant, { username, phone, error: problem }));
      return;
    }
    const token = await issueToken({
      sub: username,
      ...(phone ? { phoneNumber: phone, phoneNumberVerified: body.phone_number_verified === 'on' } : {}),
    });
    // The token travels in the fragment, which browsers never send to a server.
    const fragment = new URLSearchParams({
      access_token: token,
      token_type: 'Bearer',
      expires_in: String(ttlSec),
      scope: options.scopes.join(' '),
      ...(request.state ? { state: request.state } : {}),
    });
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(303, `${request.redirectUri}#${fragment.toString()}`);
  });

  return {
    get issuer() {
      return issuer;
    },
    get jwksUrl() {
      return `${issuer}/.well-known/jwks.json`;
    },
    get authorizeUrl() {
      return `${issuer}/authorize`;
    },
    allowRedirectOrigin(origin) {
      redirectOrigins.add(new URL(origin).origin);
    },
    issueToken,
    async start(port = 0, host = '127.0.0.1') {
      server = createServer(app);
      await new Promise<void>((resolve, reject) => {
        server?.once('error', reject);
        server?.listen(port, host, () => resolve());
      });
      const address = server.address() as AddressInfo;
      issuer = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
      return issuer;
    },
    async stop() {
      if (!server) return;
      const closing = server;
      server = undefined;
      await new Promise<void>((resolve) => {
        closing.close(() => resolve());
        closing.closeAllConnections();
      });
    },
  };
}

interface AuthorizationRequest {
  clientId: string;
  redirectUri: string;
  state: string;
}

/** The OAuth 2.0 parameters of a sign-in (query on GET, form fields on POST), or why they are refused. */
function authorizationRequest(req: Request, redirectOrigins: Set<string>): AuthorizationRequest | string {
  const source = (req.method === 'POST' ? req.body : req.query) as Record<string, unknown>;
  const text = (name: string) => (typeof source[name] === 'string' ? source[name] : '');
  if (text('response_type') !== 'token') return "response_type: only 'token' is supported here";
  const clientId = text('client_id');
  if (!clientId) return 'client_id: required';
  const redirectUri = text('redirect_uri');
  let origin: string;
  try {
    origin = new URL(redirectUri).origin;
  } catch {
    return 'redirect_uri: expected an absolute URL';
  }
  // Never an open redirect: tokens go only to the apps registered with this provider.
  if (!redirectOrigins.has(origin)) return `redirect_uri: ${origin} is not registered with this provider`;
  return { clientId, redirectUri, state: text('state').slice(0, 200) };
}

function refuse(res: Response, problem: string): void {
  res
    .status(400)
    .type('html')
    .send(page('Sign-in refused', `<p class="error">${escapeHtml(problem)}</p>`));
}

function loginPage(
  request: AuthorizationRequest,
  tenant: string,
  filled: { username?: string; phone?: string; error?: string } = {},
): string {
  const hidden = (name: string, value: string) =>
    `<input type="hidden" name="${name}" value="${escapeHtml(value)}" />`;
  return page(
    'Sign in',
    `<p class="lead">The sandbox's identity provider: anyone may sign in, as any user of tenant
      <code>${escapeHtml(tenant)}</code>. The token it issues names your user (<code>sub</code>) and your
      phone number (<code>phone_number</code>, <code>phone_number_verified</code>).</p>
    ${filled.error ? `<p class="error" role="alert">${escapeHtml(filled.error)}</p>` : ''}
    <form method="post" action="/authorize">
      ${hidden('response_type', 'token')}
      ${hidden('client_id', request.clientId)}
      ${hidden('redirect_uri', request.redirectUri)}
      ${hidden('state', request.state)}
      <label>User name <input name="username" required maxlength="64" autocomplete="username"
        value="${escapeHtml(filled.username ?? 'alice')}" /></label>
      <label>Phone number <input name="phone_number" type="tel" maxlength="20" autocomplete="tel"
        value="${escapeHtml(filled.phone ?? '+61412345678')}" /></label>
      <label class="check"><input type="checkbox" name="phone_number_verified" checked />
        This number is verified</label>
      <button type="submit">Sign in</button>
    </form>`,
  );
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${title} — sandbox identity provider</title>
    <link rel="stylesheet" href="/login.css" />
  </head>
  <body>
    <main>
      <h1>${title}</h1>
      ${body}
    </main>
  </body>
</html>`;
}

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );

const LOGIN_CSS = `body { font: 16px/1.5 system-ui, sans-serif; margin: 0; background: #eef1f6; color: #1b2330; }
main { max-width: 26rem; margin: 3rem auto; background: #fff; padding: 1.5rem 2rem; border-radius: 8px; }
label { display: block; margin: 0.8rem 0; }
label input:not([type=checkbox]) { display: block; width: 100%; box-sizing: border-box; padding: 0.4rem; font: inherit; }
.check input { margin-right: 0.4rem; }
button { font: inherit; padding: 0.5rem 1.2rem; }
.error { color: #a11; }
.lead { color: #4a5568; }
`;
