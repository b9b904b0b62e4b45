import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import request from 'supertest';
import type { RunningServer } from '../../src/server';
import { TEST_APPKEY, TEST_CALLBACK_TOKEN, TEST_WEBHOOK_SECRETS } from '../support/constants';
import { buildConsole } from '../support/console-build';
import { seedConsoleLedger } from '../support/console-seed';
import { bearer, startTestGateway, tokenFor } from '../support/gateway';
import { waitFor } from '../support/wait';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';

// The operator console in a real browser: Debian's Chromium driven by playwright-core, against the
// gateway in sandbox mode over real HTTP on loopback, with a seeded ledger and live sends.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const artifacts = resolve(__dirname, '../artifacts');
const callbacks = `/v1/callbacks/cellcast/${TEST_CALLBACK_TOKEN}`;
/** A full AU mobile (masked ones have stars in their place). */
const FULL_NUMBER = /(?<![\d*])(?:\+?614\d{8}|04\d{8})(?!\d)/;

describe('the operator console in Chromium', () => {
  let gw: RunningServer;
  let browser: Browser;
  let hook: WebhookReceiver;
  let page: Page;
  let deadLetterId: number;
  const violations: string[] = [];
  const bodies: string[] = [];

  beforeAll(async () => {
    buildConsole();
    hook = await startWebhookReceiver();
    gw = await startTestGateway({
      tenants: {
        alpha: {
          webhook: { url: hook.url, secret: TEST_WEBHOOK_SECRETS.alpha },
          quota: { segmentsPerDay: 200, segmentsPerMonth: 5000 },
        },
        beta: { quota: { segmentsPerDay: 100 } },
      },
      webhooks: { allowPrivateTargets: [`127.0.0.1:${hook.port}`] },
      console: { flushIntervalMs: 200 },
    });
    ({ deadLetterId } = await seedConsoleLedger(gw, Date.now()));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    mkdirSync(artifacts, { recursive: true });
    page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
    });
    page.on('response', async (response) => {
      if (response.headers()['content-type']?.includes('event-stream')) return;
      bodies.push(await response.text().catch(() => ''));
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
    await hook?.close();
  });

  const shot = (name: string) =>
    page.screenshot({ path: join(artifacts, `console-${name}.png`), fullPage: true });
  const text = (selector: string) => page.textContent(selector).then((t) => t ?? '');

  /** A live send as alpha; returns the provider's id for a delivery report. */
  async function liveSend(to: string): Promise<string> {
    const sent = await request(gw.url)
      .post('/v1/messages')
      .set(bearer(tokenFor('alpha')))
      .send({ to, text: 'live from the test', reference: 'live-ref' });
    expect(sent.status).toBe(201);
    const id = sent.body.data.messages[0].id as string;
    const detail = await request(gw.url)
      .get(`/v1/messages/${id}`)
      .set(bearer(tokenFor('alpha')));
    return detail.body.data.providerMessageId as string;
  }
  const report = async (providerId: string, status = 'Delivered') => {
    const res = await request(gw.url)
      .post(`${callbacks}/dlr`)
      .send([{ message_id: providerId, status }]);
    expect(res.body.data.applied).toBe(1);
  };

  it('signs in with a pasted admin token (a non-admin one is refused) and shows the account live', async () => {
    await page.goto(`${gw.url}/console`);
    await page.fill('#token', tokenFor('alpha', { scope: 'sms:send sms:read' }));
    await page.click('#sign-in');
    expect(await page.waitForSelector('#signin-error').then((e) => e.textContent())).toContain(
      'no admin scope',
    );
    await page.fill('#token', tokenFor('ops', { scope: 'admin' }));
    await page.click('#sign-in');
    await page.waitForSelector('#panel-account');
    // Live sends during the test: three provider calls.
    for (const to of ['0412777001', '0412777002', '0412777003']) await liveSend(to);
    // Polled from here: the page's CSP forbids the string evaluation waitForFunction would use.
    await waitFor(
      async () => Number(await text('#stat-calls .stat-value')) >= 3,
      15_000,
      '3 provider calls shown',
    );
    expect(await text('#stat-cap .stat-value')).toBe('15');
    expect(await text('#stat-balance .stat-value')).toBe('not available');
    expect(await page.locator('#chart-calls canvas').count()).toBe(1);
    expect(await page.locator('#chart-queue canvas').count()).toBe(1);
    await shot('account');
  }, 60_000);

  it('shows each tenant: quotas, rate, statuses, webhook health and charts over 24 h and 30 days', async () => {
    await page.click('#tab-tenants');
    const alpha = page.locator('.tenant[data-tenant=alpha]');
    await alpha.locator('canvas').waitFor();
    // The seeded ledger (20 alpha messages in the last day) and the 3 live sends.
    expect(await alpha.locator('.quota-used').first().textContent()).toMatch(/^\d+ \/ \d+$/);
    expect(await alpha.locator('.statuses').textContent()).toMatch(/delivered/);
    expect(await alpha.locator('.webhook').textContent()).toContain('dead letters1');
    expect(await page.locator('.tenant[data-tenant=beta] canvas').count()).toBe(1);
    await shot('tenants-24h');
    await page.click('#range-30d');
    await page.waitForSelector('.tenant[data-tenant=alpha] .u-title:text("Last 30 days, per hour")');
    await shot('tenants-30d');
  }, 60_000);

  it('searches a message by the last digits of its number and shows its history', async () => {
    await page.click('#tab-messages');
    await page.fill('input[name=last]', '1004');
    await page.click('#search');
    const row = page.locator('#results tbody tr[data-id=seed0004]');
    await row.waitFor();
    expect(await page.locator('#results tbody tr').count()).toBe(1);
    expect(await row.textContent()).toContain('+********004');
    await row.click();
    await page.waitForSelector('#message-detail .history li');
    expect(await page.locator('#message-detail .history li').count()).toBe(2);
    // A live send is found too, by its last digits.
    await page.fill('input[name=last]', '777002');
    await page.click('#search');
    await page.waitForSelector('#results tbody tr:has-text("live-ref")');
    await shot('messages');
  }, 60_000);

  it('streams every tenant’s events live, and holds them while paused', async () => {
    await page.click('#tab-live');
    await page.waitForSelector('#events');
    const providerId = await liveSend('0412777004');
    await report(providerId);
    await page.waitForSelector('#events tbody tr:has-text("message.status")');
    expect(await text('#events tbody')).toContain('***004');
    await page.click('#pause');
    await report(await liveSend('0412777005'));
    await page.waitForSelector('text=paused: 1 held');
    expect(await text('#events tbody')).not.toContain('***005');
    await page.click('#pause');
    await page.waitForSelector('#events tbody tr:has-text("***005")');
    await shot('live');
  }, 60_000);

  it('inspects a dead letter and replays it from the page: the webhook receives it', async () => {
    await page.click('#tab-dead');
    const row = page.locator(`#dead-letters tr[data-id="${deadLetterId}"]`);
    await row.waitFor();
    await row.locator('button.inspect').click();
    await page.waitForSelector('#inspected');
    expect(await text('#inspected')).toContain('+********000');
    expect(await page.locator('#unrouted tbody tr').count()).toBe(1);
    await shot('dead-letters');
    await row.locator('button.replay').click();
    await page.waitForSelector('#dead-note:has-text("queued again")');
    await waitFor(
      () => hook.received.find((r) => r.headers['webhook-id'] === 'evt_seeded_dead'),
      15_000,
      'replayed delivery',
    );
    const state = await waitFor(
      async () => {
        const r = await gw.db
          .selectFrom('webhook_deliveries')
          .select('state')
          .where('id', '=', deadLetterId)
          .executeTakeFirstOrThrow();
        return r.state === 'done' && r.state;
      },
      15_000,
      'delivered',
    );
    expect(state).toBe('done');
    await page.waitForSelector(`#dead-letters tr[data-id="${deadLetterId}"]`, {
      state: 'detached',
      timeout: 15_000,
    });
    // Assign the held reply to beta from the page.
    await page.selectOption('#unrouted select', 'beta');
    await page.click('#unrouted button');
    await page.waitForSelector('#unrouted td:text("nothing waiting")');
    await shot('dead-letters-after');
  }, 60_000);

  it('broke no CSP rule, and no full number or secret reached the page', async () => {
    expect(violations).toEqual([]);
    const html = await page.content();
    for (const body of [html, ...bodies]) {
      expect(FULL_NUMBER.exec(body)?.[0]).toBeUndefined();
      expect(body).not.toContain(TEST_APPKEY);
      expect(body).not.toContain(TEST_WEBHOOK_SECRETS.alpha);
    }
  });
});
