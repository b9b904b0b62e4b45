import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import jwt from 'jsonwebtoken';
import pino from 'pino';
import request from 'supertest';
import { createAuthenticator } from '../../src/auth';
import { parseConfig, type Config } from '../../src/config';
import { errorHandler } from '../../src/http';
import { waitFor } from '../support/wait';

// The verified-token cache: a token verified once is not verified again until its exp, a token
// past its exp is refused as before, and a JWKS token stops working once its key leaves the set.

const secret = 'token-cache-test-secret-0123456789abcdef';
const T0 = Date.parse('2026-11-25T12:00:00.000Z');

function appFor(auth: Record<string, unknown>): express.Express {
  const config: Config = parseConfig({ auth, tenants: { alpha: {} } }, { requireAppKey: false });
  const app = express();
  app.use(createAuthenticator(config.auth, config.tenants));
  app.get('/whoami', (req, res) => {
    res.json(req.user);
  });
  app.use(errorHandler(pino({ level: 'silent' })));
  return app;
}

describe('HS256: verified tokens are cached until their exp', () => {
  let verify: jest.SpyInstance;
  beforeEach(() => {
    // Only Date is faked (jsonwebtoken and the cache read the system clock); timers and I/O stay real.
    jest.useFakeTimers({
      doNotFake: [
        'nextTick',
        'setImmediate',
        'clearImmediate',
        'setInterval',
        'clearInterval',
        'setTimeout',
        'clearTimeout',
        'queueMicrotask',
        'hrtime',
        'performance',
      ],
      now: T0,
    });
    verify = jest.spyOn(jwt, 'verify');
  });
  afterEach(() => {
    verify.mockRestore();
    jest.useRealTimers();
  });

  const sign = (payload: object) =>
    jwt.sign({ tenant: 'alpha', scope: 'sms:send', ...payload }, secret, { algorithm: 'HS256' });

  it('verifies a token once, answers later requests from the cache with the same identity', async () => {
    const app = appFor({ jwtSecret: secret });
    const token = sign({ iat: T0 / 1000, exp: T0 / 1000 + 300, sub: 'u-1' });
    const first = await request(app).get('/whoami').set('Authorization', `Bearer ${token}`);
    const second = await request(app).get('/whoami').set('Authorization', `bearer ${token}`);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);
    expect(first.body).toMatchObject({ tenantId: 'alpha', scopes: ['sms:send'], subject: 'u-1' });
    expect(verify).toHaveBeenCalledTimes(1);
  });

  it('refuses a cached token once its exp (plus the clock tolerance) has passed', async () => {
    const app = appFor({ jwtSecret: secret, clockToleranceSec: 30 });
    const token = sign({ iat: T0 / 1000, exp: T0 / 1000 + 60 });
    expect((await request(app).get('/whoami').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    jest.setSystemTime(T0 + 89_000); // within the tolerance: still good, still cached
    expect((await request(app).get('/whoami').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    expect(verify).toHaveBeenCalledTimes(1);
    jest.setSystemTime(T0 + 90_000);
    const late = await request(app).get('/whoami').set('Authorization', `Bearer ${token}`);
    expect(late.status).toBe(401);
    expect(late.body.error).toEqual({ code: 'AUTH_FAILED', description: 'Authorization: token expired' });
    expect(verify).toHaveBeenCalledTimes(2);
  });

  it('never answers a different token from the cache (a tampered copy of a cached token is refused)', async () => {
    const app = appFor({ jwtSecret: secret });
    const token = sign({ iat: T0 / 1000, exp: T0 / 1000 + 300 });
    expect((await request(app).get('/whoami').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    const [header, , signature] = token.split('.');
    const payload = Buffer.from(
      JSON.stringify({ tenant: 'alpha', scope: 'sms:send admin', exp: T0 / 1000 + 300 }),
    );
    const tampered = `${header}.${payload.toString('base64url')}.${signature}`;
    expect((await request(app).get('/whoami').set('Authorization', `Bearer ${tampered}`)).status).toBe(401);
  });

  it('with auth.tokenCacheEntries 0, verifies every request', async () => {
    const app = appFor({ jwtSecret: secret, tokenCacheEntries: 0 });
    const token = sign({ iat: T0 / 1000, exp: T0 / 1000 + 300 });
    await request(app).get('/whoami').set('Authorization', `Bearer ${token}`);
    await request(app).get('/whoami').set('Authorization', `Bearer ${token}`);
    expect(verify).toHaveBeenCalledTimes(2);
  });
});

describe('JWKS: a cached token ends when its key leaves the key set', () => {
  let server: Server;
  let keys: object[] = [];
  let jwksUrl = '';
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'key-1', alg: 'RS256', use: 'sig' };

  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ keys }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('refuses the token once the key set no longer holds its key (after auth.jwksCacheMaxAgeSec)', async () => {
    keys = [jwk];
    const app = appFor({
      algorithms: ['RS256'],
      jwksUrl,
      issuer: 'https://idp.test/',
      audience: 'smsgate',
      jwksCacheMaxAgeSec: 1,
    });
    const token = jwt.sign(
      { tenant: 'alpha', scope: 'sms:send' },
      privateKey.export({ format: 'pem', type: 'pkcs8' }),
      {
        algorithm: 'RS256',
        keyid: 'key-1',
        expiresIn: 300,
        issuer: 'https://idp.test/',
        audience: 'smsgate',
      },
    );
    const ask = () => request(app).get('/whoami').set('Authorization', `Bearer ${token}`);
    expect((await ask()).status).toBe(200);
    expect((await ask()).status).toBe(200);
    keys = []; // the identity provider revokes the key
    // Waits on the condition (the key set fetched again), not a fixed time.
    const res = await waitFor(
      async () => {
        const answer = await ask();
        return answer.status !== 200 && answer;
      },
      20_000,
      'the revoked key to end the cached token',
    );
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('AUTH_FAILED');
  });
});
