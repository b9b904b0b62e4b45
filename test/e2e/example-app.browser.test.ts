import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { RunningServer } from '../../src/server';
import { startTestGateway } from '../support/gateway';

// The cross-origin example app of sandbox mode in a real browser (Debian's Chromium driven by
// playwright-core): served from its own port, it signs in at the sandbox's identity provider,
// sends to the user's own number with sms:send:self and shows `delivered` from the event stream.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const artifacts = resolve(__dirname, '../artifacts');
const PHONE = '+61412345678';
/** Another user's number, so the verification limits of one number are not shared with the test above. */
const VERIFY_PHONE = '+61498765432';

/** What the browser reported: console lines and uncaught page errors. */
function watch(page: Page): string[] {
  const lines: string[] = [];
  page.on('console', (message) => lines.push(`${message.type()}: ${message.text()}`));
  page.on('pageerror', (error) => lines.push(`pageerror: ${error.message}`));
  return lines;
}

describe('the cross-origin example app in Chromium', () => {
  let gw: RunningServer;
  let context: BrowserContext;
  let profile: string;
  /** A page on an origin no tenant lists. */
  let stranger: Server;
  let strangerUrl: string;

  beforeAll(async () => {
    gw = await startTestGateway({ sandbox: { dlrDelayMs: 200 } });
    profile = mkdtempSync(join(tmpdir(), 'smsgate-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      // As the machine's probe runs it: no sandbox as root, no background calls to Google, and a
      // fresh profile (the user-data-dir above) every run.
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    stranger = createServer((_req, res) => {
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end('<!doctype html><title>elsewhere</title><p>elsewhere</p>');
    });
    await new Promise<void>((done) => stranger.listen(0, '127.0.0.1', done));
    strangerUrl = `http://127.0.0.1:${(stranger.address() as AddressInfo).port}`;
    mkdirSync(artifacts, { recursive: true });
  }, 60_000);
  afterAll(async () => {
    await context?.close();
    await new Promise((done) => stranger?.close(done));
    await gw?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('signs in at the identity provider, sends to the user’s own number and sees `delivered` over SSE, with no CORS error', async () => {
    const app = gw.exampleApp!;
    const idp = gw.identityProvider!;
    // Three origins: the app, the gateway and the identity provider.
    expect(new Set([new URL(app.url).origin, new URL(gw.url).origin, idp.issuer]).size).toBe(3);

    const page = await context.newPage();
    const reported = watch(page);
    await page.goto(app.url);
    await page.click('#sign-in');
    await page.waitForURL(`${idp.issuer}/authorize?**`);
    await page.fill('input[name=username]', 'alice');
    await page.fill('input[name=phone_number]', PHONE);
    await page.check('input[name=phone_number_verified]');
    await page.click('button[type=submit]');
    await page.waitForURL(`${app.url}/`);
    await page.waitForSelector('#signed-in:not([hidden])');
    expect(await page.textContent('#user')).toBe('alice');
    expect(await page.textContent('#phone')).toBe(PHONE);
    await page.waitForSelector('#stream[data-state=open]');

    const before = [...gw.sandbox!.sent.values()].length;
    await page.click('#send-form button[type=submit]');
    await page.waitForSelector('#status[data-status=delivered]', { timeout: 20_000 });
    const messageId = await page.textContent('#message-id');
    expect(messageId).toMatch(/^msg_[0-9A-Z]{26}$/);
    await page.screenshot({ path: join(artifacts, 'example-app.png'), fullPage: true });

    // One SMS, to the signed-in user's own number, recorded with the user as its sender.
    const sent = [...gw.sandbox!.sent.values()].slice(before);
    expect(sent.map((m) => m.to)).toEqual([PHONE.slice(1)]);
    const stored = await gw.db
      .selectFrom('messages')
      .select(['subject', 'tenant_id'])
      .where('id', '=', messageId!)
      .executeTakeFirstOrThrow();
    expect(stored).toEqual({ subject: 'alice', tenant_id: 'demo' });

    // No CORS refusal, nor any other error, on the app's page.
    expect(
      reported.filter((line) => /^(error|pageerror)/.test(line) || /CORS|Access-Control/i.test(line)),
    ).toEqual([]);
    await page.close();
  }, 90_000);

  it('verifies the signed-in user’s own number: a wrong code shows `denied`, the code the phone got shows `approved`', async () => {
    const app = gw.exampleApp!;
    const idp = gw.identityProvider!;
    const page = await context.newPage();
    const reported = watch(page);
    await page.goto(app.url);
    await page.click('#sign-in');
    await page.waitForURL(`${idp.issuer}/authorize?**`);
    await page.fill('input[name=username]', 'bob');
    await page.fill('input[name=phone_number]', VERIFY_PHONE);
    await page.uncheck('input[name=phone_number_verified]');
    await page.click('button[type=submit]');
    await page.waitForURL(`${app.url}/`);
    await page.waitForSelector('#signed-in:not([hidden])');
    expect(await page.textContent('#verified')).toBe('(not verified)');

    const before = [...gw.sandbox!.sent.values()].length;
    await page.click('#verify-start');
    await page.waitForSelector('#verify-form:not([hidden])');
    const verificationId = await page.textContent('#verification-id');
    expect(verificationId).toMatch(/^vrf_[0-9A-Z]{26}$/);

    // The code as the phone got it: the provider sandbox's record of the SMS (the gateway's ledger
    // keeps it masked).
    const sms = [...gw.sandbox!.sent.values()].slice(before);
    expect(sms.map((m) => m.to)).toEqual([VERIFY_PHONE.slice(1)]);
    const code = /code is ([0-9]{6})\b/.exec(sms[0]!.body)?.[1];
    expect(code).toMatch(/^[0-9]{6}$/);
    const stored = await gw.db
      .selectFrom('messages')
      .select('text')
      .where('tenant_id', '=', 'demo')
      .where('recipient', '=', VERIFY_PHONE)
      .executeTakeFirstOrThrow();
    expect(stored.text).not.toContain(code);

    const wrong = code!.replace(/^./, (digit) => String((Number(digit) + 1) % 10));
    await page.fill('#verify-code', wrong);
    await page.click('#verify-form button[type=submit]');
    await page.waitForSelector('#verify-result[data-status=denied]');
    expect(await page.textContent('#verify-result')).toContain('denied');

    await page.fill('#verify-code', code!);
    await page.click('#verify-form button[type=submit]');
    await page.waitForSelector('#verify-result[data-status=approved]');
    expect(await page.textContent('#verify-result')).toContain('approved');
    expect(await page.textContent('#verified')).toBe('(verified just now)');
    await page.screenshot({ path: join(artifacts, 'example-app-verify.png'), fullPage: true });

    // One code sent, nothing else; no CORS refusal nor any other error on the page.
    expect([...gw.sandbox!.sent.values()].length - before).toBe(1);
    expect(
      reported.filter((line) => /^(error|pageerror)/.test(line) || /CORS|Access-Control/i.test(line)),
    ).toEqual([]);
    await page.close();
  }, 90_000);

  it('a page from an origin no tenant lists gets no answer it can read, with the same valid token', async () => {
    const token = await gw.identityProvider!.issueToken({
      sub: 'mallory',
      phoneNumber: PHONE,
      phoneNumberVerified: true,
    });
    const page = await context.newPage();
    const reported = watch(page);
    await page.goto(strangerUrl);
    const outcomes = await page.evaluate(
      async ({ gateway, bearer }) => {
        const attempt = (path: string, init: RequestInit) =>
          fetch(`${gateway}${path}`, init).then(
            async (response) => `read ${response.status} ${await response.text()}`,
            (error: Error) => `refused: ${error.message}`,
          );
        const headers = { Authorization: `Bearer ${bearer}`, 'Content-Type': 'application/json' };
        const list = await attempt('/v1/messages', { headers });
        const send = await attempt('/v1/messages', {
          method: 'POST',
          headers,
          body: JSON.stringify({ to: '+61412345678', text: 'from elsewhere' }),
        });
        const ticket = await attempt('/v1/events/tickets', { method: 'POST', headers });
        return { list, send, ticket };
      },
      { gateway: gw.url, bearer: token },
    );
    expect(outcomes).toEqual({
      list: 'refused: Failed to fetch',
      send: 'refused: Failed to fetch',
      ticket: 'refused: Failed to fetch',
    });
    // The browser says why: the gateway granted this origin nothing.
    expect(
      reported.some((line) => line.includes(`from origin '${strangerUrl}' has been blocked by CORS policy`)),
    ).toBe(true);
    // And nothing was sent from there: the preflight of the POST was not granted.
    expect([...gw.sandbox!.sent.values()].some((m) => m.body === 'from elsewhere')).toBe(false);
    await page.close();
  }, 60_000);
});
