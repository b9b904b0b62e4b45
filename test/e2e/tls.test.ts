import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { createSandbox, type Sandbox } from '../../src/sandbox';
import type { RunningServer } from '../../src/server';
import { TEST_APPKEY } from '../support/constants';
import { bearer, startTestGateway, tokenFor } from '../support/gateway';

// Production mode against a provider simulator on loopback, the gateway serving TLS itself with a
// certificate made for this test.
describe('native TLS (tls.certFile / tls.keyFile)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'smsgate-tls-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  let sandbox: Sandbox;
  let gw: RunningServer;
  let plain: RunningServer;
  let ca: Buffer;

  beforeAll(async () => {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        keyFile,
        '-out',
        certFile,
      ],
      { stdio: 'ignore' },
    );
    ca = readFileSync(certFile);
    sandbox = createSandbox({
      appKeys: [TEST_APPKEY],
      callsPerSecond: 15,
      pageSize: 25,
      dlrDelayMs: 3_600_000,
    });
    await sandbox.start(0, '127.0.0.1');
    const production = { mode: 'production', upstream: { baseUrl: sandbox.apiUrl } };
    gw = await startTestGateway({ ...production, tls: { certFile, keyFile } });
    plain = await startTestGateway(production);
  });
  afterAll(async () => {
    await gw.stop();
    await plain.stop();
    await sandbox.stop();
  });

  it('serves HTTPS with HSTS, and sends over it', async () => {
    expect(gw.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const health = await request(gw.url).get('/healthz').ca(ca);
    expect(health.status).toBe(200);
    expect(health.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    const sent = await request(gw.url)
      .post('/v1/messages')
      .ca(ca)
      .set(bearer(tokenFor('alpha')))
      .send({ to: '0412345678', text: 'over TLS' });
    expect(sent.status).toBe(201);
  });

  it('without TLS in production mode, plain HTTP is refused (even from loopback) and no HSTS is sent', async () => {
    const res = await request(plain.url)
      .post('/v1/messages')
      .set(bearer(tokenFor('alpha')))
      .send({ to: '0412345678', text: 'x' });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('HTTPS_REQUIRED');
    expect(res.headers['strict-transport-security']).toBeUndefined();
  });

  it("creates each request and response with the app's prototypes, over HTTPS and plain HTTP", async () => {
    // src/http/server-objects.ts: Express then has no prototype to change (a cost of ~100 µs a request).
    const bornWith = async (running: RunningServer, send: () => Promise<unknown>) => {
      const born: object[] = [];
      const look = (req: object, res: object) =>
        born.push(Object.getPrototypeOf(req), Object.getPrototypeOf(res));
      running.server.prependListener('request', look);
      try {
        await send();
      } finally {
        running.server.off('request', look);
      }
      return born;
    };
    for (const [running, send] of [
      [gw, () => request(gw.url).get('/healthz').ca(ca)],
      [plain, () => request(plain.url).get('/healthz')],
    ] as const) {
      const [req, res, ...more] = await bornWith(running, send);
      expect(more).toEqual([]);
      expect(req).toBe(running.gateway.app.request);
      expect(res).toBe(running.gateway.app.response);
    }
  });

  it('refuses half a TLS configuration at load', async () => {
    await expect(startTestGateway({ tls: { certFile } })).rejects.toThrow(
      /tls\.certFile and tls\.keyFile: set both/,
    );
    await expect(startTestGateway({ tls: { certFile: join(dir, 'missing.pem'), keyFile } })).rejects.toThrow(
      /tls\.certFile: cannot read/,
    );
  });
});
