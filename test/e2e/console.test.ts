import { buildConsole } from '../support/console-build';
import request from 'supertest';
import type { RunningServer } from '../../src/server';
import { CONSOLE_CSP } from '../../src/console';
import {
  TEST_APPKEY,
  TEST_CALLBACK_TOKEN,
  TEST_JWT_SECRET,
  TEST_WEBHOOK_SECRETS,
} from '../support/constants';
import { seedConsoleLedger } from '../support/console-seed';
import { bearer, startTestGateway, tokenFor } from '../support/gateway';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';

/** Every console data route, as a GET the page makes. */
const DATA_ROUTES = [
  '/v1/admin/console/account',
  '/v1/admin/console/tenants',
  '/v1/admin/console/tenants/alpha/series?range=24h',
  '/v1/admin/console/tenants/alpha/series?range=30d',
  '/v1/admin/console/messages',
  '/v1/admin/console/messages?last=1004',
  '/v1/admin/console/messages/seed0004',
  '/v1/admin/console/dead-letters/1',
  '/v1/admin/console/webhooks',
  '/v1/admin/console/inbound/unrouted',
  '/v1/admin/console/events',
];
/** A full AU mobile anywhere in a text (masked ones have stars in their place). */
const FULL_NUMBER = /(?<![\d*])(?:\+?614\d{8}|04\d{8})(?!\d)/;

describe('the console: admin only, strict CSP, nothing secret and no full number', () => {
  let gw: RunningServer;
  let hook: WebhookReceiver;

  beforeAll(async () => {
    buildConsole();
    hook = await startWebhookReceiver();
    gw = await startTestGateway({
      tenants: {
        alpha: { webhook: { url: `${hook.url}?token=hook-path-secret`, secret: TEST_WEBHOOK_SECRETS.alpha } },
      },
      webhooks: { allowPrivateTargets: [`127.0.0.1:${hook.port}`] },
    });
    await seedConsoleLedger(gw, Date.now());
    const sent = await request(gw.url)
      .post('/v1/messages')
      .set(bearer(tokenFor('alpha')))
      .send({ to: '0412345678', text: 'a live one' });
    expect(sent.status).toBe(201);
  });
  afterAll(async () => {
    await gw.stop();
    await hook.close();
  });

  /** Reads a route's answer; the event stream's first bytes only. */
  async function read(path: string, token: string): Promise<{ status: number; text: string }> {
    const res = await fetch(`${gw.url}${path}`, { headers: bearer(token) });
    if (!res.headers.get('content-type')?.startsWith('text/event-stream')) {
      return { status: res.status, text: await res.text() };
    }
    const reader = res.body!.getReader();
    const { value } = await reader.read();
    await reader.cancel();
    return { status: res.status, text: Buffer.from(value ?? []).toString('utf8') };
  }

  it('a token without the admin scope gets nothing from any console data route', async () => {
    for (const token of [
      tokenFor('alpha', { scope: 'sms:send sms:read' }),
      tokenFor('ops', { scope: 'sms:read' }),
    ]) {
      for (const path of DATA_ROUTES) {
        const { status, text } = await read(path, token);
        expect({ path, status }).toEqual({ path, status: 403 });
        expect(JSON.parse(text)).toEqual({
          error: { code: 'FORBIDDEN', description: expect.any(String) },
          data: {},
        });
      }
    }
    for (const path of DATA_ROUTES) expect((await fetch(`${gw.url}${path}`)).status).toBe(401);
  });

  it('answers admins, with every number masked and no secret in any answer', async () => {
    const admin = tokenFor('ops', { scope: 'admin' });
    const secrets = [
      TEST_APPKEY,
      TEST_JWT_SECRET,
      TEST_CALLBACK_TOKEN,
      TEST_WEBHOOK_SECRETS.alpha,
      'hook-path-secret',
    ];
    for (const path of DATA_ROUTES) {
      const { status, text } = await read(path, admin);
      expect({ path, status }).toEqual({ path, status: 200 });
      expect({ path, number: FULL_NUMBER.exec(text)?.[0] }).toEqual({ path, number: undefined });
      for (const secret of secrets) expect(text).not.toContain(secret);
    }
    const found = await request(gw.url).get('/v1/admin/console/messages?last=1004').set(bearer(admin));
    expect(found.body.data.map((m: { id: string; to: string }) => [m.id, m.to])).toEqual([
      ['seed0004', '+********004'],
    ]);
    const unrouted = await request(gw.url).get('/v1/admin/console/inbound/unrouted').set(bearer(admin));
    expect(unrouted.body.data[0]).toMatchObject({
      from: '+********876',
      text: 'STOP please, call me on *******876',
    });
    const hooks = await request(gw.url).get('/v1/admin/console/webhooks').set(bearer(admin));
    expect(hooks.body.data).toEqual([
      { tenant: 'alpha', host: `http://127.0.0.1:${hook.port}`, disabledAt: null, reason: null },
    ]);
  });

  it('serves the pages under a strict CSP, with no inline script or style', async () => {
    for (const path of ['/console', '/console/app.js', '/console/app.css']) {
      const res = await request(gw.url).get(path);
      expect(res.status).toBe(200);
      expect(res.headers['content-security-policy']).toBe(CONSOLE_CSP);
    }
    expect(CONSOLE_CSP).toContain("script-src 'self'");
    expect(CONSOLE_CSP).toContain("style-src 'self'");
    expect(CONSOLE_CSP).not.toContain('unsafe-inline');
    expect(CONSOLE_CSP).toContain("default-src 'none'");
    const html = (await request(gw.url).get('/console')).text;
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, body] of scripts) {
      expect(attributes).toMatch(/\ssrc="\/console\/app\.js"/);
      expect(body!.trim()).toBe('');
    }
    expect(html).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=/i);
    expect(html).not.toMatch(/https?:\/\//);
  });

  it('the sandbox sign-in token is an admin token, for loopback callers, and only in sandbox mode', async () => {
    const res = await request(gw.url).post('/console/sandbox-token');
    expect(res.status).toBe(201);
    const account = await request(gw.url).get('/v1/admin/console/account').set(bearer(res.body.data.token));
    expect(account.status).toBe(200);
    expect(account.body.data.callsPerSecond).toBe(15);
  });
});
