import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import type { RunningServer } from '../../src/server';
import { TEST_JWT_SECRET } from '../support/constants';
import { bearer, startTestGateway, tokenFor } from '../support/gateway';

const b64url = (value: object | string) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const nowSec = () => Math.floor(Date.now() / 1000);

/** Builds a token by hand, so tests can forge what no library would sign. */
function forge(header: object, payload: object, sign: (input: string) => string): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${sign(input)}`;
}
const hs256 = (secret: string | Buffer) => (input: string) =>
  createHmac('sha256', secret).update(input).digest('base64url');

function expectAuthFailed(res: request.Response, description: RegExp): void {
  expect(res.status).toBe(401);
  expect(res.body.error.code).toBe('AUTH_FAILED');
  expect(res.body.error.description).toMatch(description);
}

describe('HS256 tokens (the embedded default)', () => {
  let gw: RunningServer;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(() => gw.stop());
  afterEach(() => expect(gw.sandbox!.calls).toEqual([]));

  const send = (headers: Record<string, string>) =>
    request(gw.url).post('/v1/messages').set(headers).send({ to: '0412345678', text: 'hi' });

  it('refuses a request with no token', async () => {
    expectAuthFailed(await send({}), /bearer token is required/);
  });

  it('refuses a token passed in the query string instead of the header', async () => {
    const res = await request(gw.url)
      .post(`/v1/messages?access_token=${tokenFor('alpha')}`)
      .send({ to: '0412345678', text: 'hi' });
    expectAuthFailed(res, /bearer token is required/);
  });

  it('refuses an expired token', async () => {
    const token = jwt.sign({ tenant: 'alpha', scope: 'sms:send', exp: nowSec() - 120 }, TEST_JWT_SECRET, {
      algorithm: 'HS256',
    });
    expectAuthFailed(await send(bearer(token)), /token expired/);
  });

  it('accepts a token expired by less than the clock tolerance', async () => {
    const token = jwt.sign({ tenant: 'alpha', scope: 'sms:read', exp: nowSec() - 5 }, TEST_JWT_SECRET, {
      algorithm: 'HS256',
    });
    const res = await request(gw.url).get('/v1/messages').set(bearer(token));
    expect(res.status).toBe(200);
  });

  it('refuses a token without exp', async () => {
    const token = jwt.sign({ tenant: 'alpha', scope: 'sms:send' }, TEST_JWT_SECRET, { algorithm: 'HS256' });
    expectAuthFailed(await send(bearer(token)), /no exp claim/);
  });

  const claims = { tenant: 'alpha', scope: 'sms:send sms:read' };
  // The test sets iat itself, or leaves it out on purpose (jsonwebtoken would add one).
  const signed = (payload: { iat?: number; [claim: string]: unknown }) =>
    jwt.sign(payload, TEST_JWT_SECRET, { algorithm: 'HS256', noTimestamp: payload.iat === undefined });
  const read = (token: string) => request(gw.url).get('/v1/messages').set(bearer(token));

  it('refuses a token whose lifetime (exp - iat) is over auth.maxTokenTtlSec: exp a century ahead', async () => {
    const token = signed({ ...claims, iat: nowSec(), exp: nowSec() + 100 * 365 * 86_400 });
    expectAuthFailed(
      await send(bearer(token)),
      /^Authorization: token lifetime \(exp - iat\) is over 86400 s/,
    );
  });

  it('accepts a token of exactly auth.maxTokenTtlSec (24 h), refuses one a second longer', async () => {
    const iat = nowSec() - 10;
    expect((await read(signed({ ...claims, iat, exp: iat + 86_400 }))).status).toBe(200);
    expectAuthFailed(await read(signed({ ...claims, iat, exp: iat + 86_401 })), /lifetime/);
  });

  it('refuses a token issued in the future beyond the clock tolerance: iat a year ahead', async () => {
    const iat = nowSec() + 365 * 86_400;
    expectAuthFailed(
      await send(bearer(signed({ ...claims, iat, exp: iat + 300 }))),
      /token issued in the future/,
    );
    // Within the tolerance (30 s) a skewed issuer is fine.
    expect((await read(signed({ ...claims, iat: nowSec() + 10, exp: nowSec() + 310 }))).status).toBe(200);
  });

  it('bounds a token without iat by what is left of it: exp at most auth.maxTokenTtlSec ahead', async () => {
    expect((await read(signed({ ...claims, exp: nowSec() + 3600 }))).status).toBe(200);
    expectAuthFailed(
      await read(signed({ ...claims, exp: nowSec() + 100 * 365 * 86_400 })),
      /token without iat expires more than 86400 s ahead/,
    );
  });

  it('POST /v1/auth/token with Basic credentials that are bad percent-encoding → 401, never 500', async () => {
    const basic = (userPass: string) => `Basic ${Buffer.from(userPass).toString('base64')}`;
    for (const credentials of ['%:x', 'client:%E0%A4%A', 'no-colon-at-all']) {
      const res = await request(gw.url)
        .post('/v1/auth/token')
        .set('Authorization', basic(credentials))
        .type('form')
        .send('grant_type=client_credentials');
      expectAuthFailed(res, /^client: /);
    }
  });

  it('refuses a tampered token (tenant changed after signing)', async () => {
    const [header, , signature] = tokenFor('alpha').split('.');
    const tampered = `${header}.${b64url({ tenant: 'beta', scope: 'sms:send', exp: nowSec() + 300 })}.${signature}`;
    expectAuthFailed(await send(bearer(tampered)), /signature is invalid/);
  });

  it('refuses alg: none', async () => {
    const token = forge(
      { alg: 'none', typ: 'JWT' },
      { tenant: 'alpha', scope: 'sms:send', exp: nowSec() + 300 },
      () => '',
    );
    expectAuthFailed(await send(bearer(token)), /algorithm|malformed|signature/);
  });

  it('refuses a token signed with another secret', async () => {
    expectAuthFailed(
      await send(bearer(tokenFor('alpha', { secret: 'another-secret-another-secret-another-secret' }))),
      /signature is invalid/,
    );
  });

  it('refuses a token for an unknown tenant', async () => {
    expectAuthFailed(await send(bearer(tokenFor('mallory'))), /unknown tenant 'mallory'/);
  });

  it('refuses a token whose tenant claim is missing', async () => {
    const token = jwt.sign({ scope: 'sms:send', exp: nowSec() + 60 }, TEST_JWT_SECRET, {
      algorithm: 'HS256',
    });
    expectAuthFailed(await send(bearer(token)), /no tenant claim/);
  });

  it('refuses garbage in the Authorization header', async () => {
    expectAuthFailed(await send({ Authorization: 'Bearer not.a.jwt' }), /malformed|token/);
    expectAuthFailed(
      await send({ Authorization: 'Basic YWxhZGRpbjpvcGVuc2VzYW1l' }),
      /bearer token is required/,
    );
  });

  it('grants only scopes that both the token and the tenant allow', async () => {
    const res = await request(gw.url)
      .get('/v1/messages')
      .set(bearer(tokenFor('alpha', { scope: 'admin sms:send' })));
    expect(res.status).toBe(403);
    expect(res.body.error).toEqual({ code: 'FORBIDDEN', description: "scope: this route needs 'sms:read'" });
  });
});

describe('RS256 tokens from an identity provider (JWKS)', () => {
  let gw: RunningServer;
  let jwks: Server;
  let privateKey: KeyObject;
  let publicKey: KeyObject;
  let jwksFetches = 0;
  const issuer = 'https://idp.example.test/';
  const audience = 'smsgate';

  beforeAll(async () => {
    ({ privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 }));
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'key-1', alg: 'RS256', use: 'sig' };
    jwks = createServer((_req, res) => {
      jwksFetches += 1;
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const { port } = jwks.address() as AddressInfo;
    gw = await startTestGateway({
      auth: { algorithms: ['RS256'], jwksUrl: `http://127.0.0.1:${port}/jwks.json`, issuer, audience },
    });
  });
  afterAll(async () => {
    await gw.stop();
    await new Promise((resolve) => jwks.close(resolve));
  });
  beforeEach(() => gw.sandbox!.reset());

  const rs256 = (payload: object, options: jwt.SignOptions = {}) =>
    jwt.sign(payload, privateKey.export({ format: 'pem', type: 'pkcs8' }), {
      algorithm: 'RS256',
      keyid: 'key-1',
      expiresIn: 300,
      issuer,
      audience,
      ...options,
    });
  const send = (token: string) =>
    request(gw.url).post('/v1/messages').set(bearer(token)).send({ to: '0412345678', text: 'hi' });

  it('accepts a token signed by the identity provider with the right issuer and audience', async () => {
    const res = await send(rs256({ tenant: 'alpha', scope: 'sms:send' }));
    expect(res.status).toBe(201);
    expect(gw.sandbox!.calls).toHaveLength(1);
    expect(jwksFetches).toBeGreaterThanOrEqual(1);
  });

  it('refuses HS256 signed with the RSA public key (algorithm confusion)', async () => {
    const pem = publicKey.export({ format: 'pem', type: 'spki' });
    const token = forge(
      { alg: 'HS256', typ: 'JWT', kid: 'key-1' },
      { tenant: 'alpha', scope: 'sms:send', exp: nowSec() + 300, iss: issuer, aud: audience },
      hs256(pem),
    );
    expectAuthFailed(await send(token), /algorithm|signature|key/);
    expect(gw.sandbox!.calls).toEqual([]);
  });

  it('refuses the gateway-style HS256 token when only RS256 is configured', async () => {
    expectAuthFailed(await send(tokenFor('alpha')), /algorithm|key|signature/);
    expect(gw.sandbox!.calls).toEqual([]);
  });

  it('refuses a wrong audience and a wrong issuer', async () => {
    expectAuthFailed(
      await send(rs256({ tenant: 'alpha', scope: 'sms:send' }, { audience: 'someone-else' })),
      /audience/,
    );
    expectAuthFailed(
      await send(rs256({ tenant: 'alpha', scope: 'sms:send' }, { issuer: 'https://evil.test/' })),
      /issuer/,
    );
    expect(gw.sandbox!.calls).toEqual([]);
  });

  it('refuses a token signed by a key the JWKS does not hold', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const token = jwt.sign(
      { tenant: 'alpha', scope: 'sms:send' },
      other.export({ format: 'pem', type: 'pkcs8' }),
      {
        algorithm: 'RS256',
        keyid: 'key-1',
        expiresIn: 300,
        issuer,
        audience,
      },
    );
    expectAuthFailed(await send(token), /signature/);
  });

  it('refuses an RS256 token for an unknown tenant', async () => {
    expectAuthFailed(await send(rs256({ tenant: 'nobody', scope: 'sms:send' })), /unknown tenant/);
  });
});

describe('production mode: only the tenants the operator declared exist', () => {
  // The sandbox-mode demo tenants (demo, and ops with admin) must not exist in production; the
  // test tenants alpha, beta and ops are declared explicitly by the test configuration.
  const production = {
    mode: 'production',
    http: { requireHttps: false },
    inbound: { pollIntervalMs: 0 },
    // Nothing here reaches the provider: a closed port on loopback.
    upstream: { baseUrl: 'http://127.0.0.1:9/api/v3/' },
  };
  const list = (gw: RunningServer, token: string) => request(gw.url).get('/v1/messages').set(bearer(token));

  it('refuses an HS256 token naming the sandbox demo tenant', async () => {
    const gw = await startTestGateway(production);
    try {
      expect(Object.keys(gw.config.tenants).sort()).toEqual(['alpha', 'beta', 'ops']);
      expect((await list(gw, tokenFor('alpha'))).status).toBe(200);
      expectAuthFailed(await list(gw, tokenFor('demo')), /unknown tenant 'demo'/);
    } finally {
      await gw.stop();
    }
  });

  it('refuses a JWKS-verified token naming the sandbox demo tenant', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'key-1', alg: 'RS256', use: 'sig' };
    const jwks = createServer((_req, res) => {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const { port } = jwks.address() as AddressInfo;
    const issuer = 'https://idp.example.test/';
    const audience = 'smsgate';
    const gw = await startTestGateway({
      ...production,
      auth: { algorithms: ['RS256'], jwksUrl: `http://127.0.0.1:${port}/jwks.json`, issuer, audience },
    });
    const rs256 = (tenant: string) =>
      jwt.sign({ tenant, scope: 'sms:read admin' }, privateKey.export({ format: 'pem', type: 'pkcs8' }), {
        algorithm: 'RS256',
        keyid: 'key-1',
        expiresIn: 300,
        issuer,
        audience,
      });
    try {
      expect((await list(gw, rs256('alpha'))).status).toBe(200);
      expectAuthFailed(await list(gw, rs256('demo')), /unknown tenant 'demo'/);
    } finally {
      await gw.stop();
      await new Promise((resolve) => jwks.close(resolve));
    }
  });
});
