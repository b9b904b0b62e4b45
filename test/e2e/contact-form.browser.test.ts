import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { RunningServer } from '../../src/server';
import { TEST_APPKEY } from '../support/constants';
import { startTestGateway } from '../support/gateway';

// The demo contact form in a real browser: Debian's Chromium (installed by .ci/run) driven by
// playwright-core, against the gateway in sandbox mode over real HTTP on loopback.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const artifacts = resolve(__dirname, '../artifacts');
const RECIPIENT = '61412345678'; // the demo form's fixed recipient, as the provider echoes it

describe('the demo contact form in Chromium', () => {
  let gw: RunningServer;
  let browser: Browser;

  beforeAll(async () => {
    gw = await startTestGateway();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // As the machine's probe runs it: no sandbox as root, and no background calls to Google.
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
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
  });

  /** Every response body the page received, to search for the key. */
  function recordResponses(page: Page): string[] {
    const bodies: string[] = [];
    page.on('response', async (response) => {
      const headers = JSON.stringify(await response.allHeaders());
      const body =
        response.status() >= 300 && response.status() < 400 ? '' : await response.text().catch(() => '');
      bodies.push(`${response.url()} ${headers}\n${body}`);
    });
    return bodies;
  }
  const smsToRecipient = () => [...gw.sandbox!.sent.values()].filter((m) => m.to === RECIPIENT);

  it('fills and submits the form with JavaScript: exactly one SMS, the rendered template, and no APPKEY anywhere in the page', async () => {
    const page = await browser.newPage();
    const responses = recordResponses(page);
    await page.goto(`${gw.url}/demo/contact`);
    await page.fill('input[name=name]', 'Ann Example');
    await page.fill('textarea[name=message]', 'Hello from the browser');
    await page.click('button[type=submit]');
    await page.waitForSelector('#result[data-status]');
    expect(await page.getAttribute('#result', 'data-status')).toBe('201');
    expect(await page.textContent('#result')).toContain('"received": true');

    const sent = smsToRecipient();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.body).toBe('Website enquiry from Ann Example: Hello from the browser');

    const html = await page.content();
    // The page's scripts are files it loaded: their bodies are among the recorded responses.
    const scripts = [...html.replace(/<!--[\s\S]*?-->/g, '').matchAll(/<script[^>]*\ssrc="([^"]+)"/g)].map(
      (match) => new URL(match[1]!, gw.url).href,
    );
    expect(scripts).toEqual([`${gw.url}/demo/contact/form.js`]);
    for (const script of scripts) expect(responses.some((r) => r.startsWith(`${script} `))).toBe(true);
    await page.screenshot({ path: join(artifacts, 'contact-form.png'), fullPage: true });
    expect(responses.length).toBeGreaterThanOrEqual(3); // the page, its script and styles, the post
    for (const text of [html, ...responses]) expect(text).not.toContain(TEST_APPKEY);
    await page.close();
  }, 60_000);

  it('works without JavaScript: a plain form post, answered with the thank-you page', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    const before = smsToRecipient().length;
    await page.goto(`${gw.url}/demo/contact`);
    await page.fill('input[name=name]', 'Bo');
    await page.fill('textarea[name=message]', 'No script here');
    await Promise.all([page.waitForURL('**/demo/contact/thanks'), page.click('button[type=submit]')]);
    expect(await page.textContent('h1')).toBe('Thanks');
    const sent = smsToRecipient().slice(before);
    expect(sent.map((m) => m.body)).toEqual(['Website enquiry from Bo: No script here']);
    await context.close();
  }, 60_000);
});
