import { Webhook } from 'standardwebhooks';
import { createWebhookSender, nextRetryDelayMs } from '../../src/delivery';
import { createEgressPolicy, type Resolver } from '../../src/egress';
import { loadConfig } from '../../src/config';
import { TEST_WEBHOOK_SECRETS } from '../support/constants';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';

// A name that (in this test's DNS) points at the loopback trap: the classic rebinding/SSRF shape.
const resolver: Resolver = async (name) => {
  if (name === 'innocent.example.com') return [{ address: '127.0.0.1', family: 4 }];
  throw new Error(`ENOTFOUND ${name}`);
};
const body = JSON.stringify({ id: 'evt_1', type: 'message.status', data: {} });

describe('one webhook delivery attempt', () => {
  let trap: WebhookReceiver;
  beforeAll(async () => {
    trap = await startWebhookReceiver();
  });
  afterAll(() => trap.close());
  beforeEach(() => {
    trap.received.length = 0;
    trap.behave({});
  });

  const target = (url: string) => ({ url, secrets: [TEST_WEBHOOK_SECRETS.alpha] });

  it('refuses loopback, mapped, odd-encoded and metadata targets at delivery: the trap is never hit', async () => {
    const deliver = createWebhookSender({ policy: createEgressPolicy([], resolver), timeoutMs: 2000 });
    const port = trap.port;
    for (const url of [
      `http://127.0.0.1:${port}/`,
      `http://[::1]:${port}/`,
      `http://[::ffff:127.0.0.1]:${port}/`,
      `http://0x7f000001:${port}/`,
      `http://169.254.169.254/`,
      `http://innocent.example.com:${port}/`,
    ]) {
      const outcome = await deliver(target(url), 'evt_1', body, new Date());
      expect(outcome).toMatchObject({
        kind: 'failed',
        status: null,
        error: expect.stringMatching(/^refused: /),
      });
    }
    expect(trap.received).toHaveLength(0);
  });

  it('connects to the address it checked: an allowlisted name reaches the receiver, another port does not', async () => {
    const allowed = createWebhookSender({
      policy: createEgressPolicy([`127.0.0.1:${trap.port}`], resolver),
      timeoutMs: 2000,
    });
    const url = `http://innocent.example.com:${trap.port}/hook`;
    expect(await allowed(target(url), 'evt_1', body, new Date())).toEqual({ kind: 'delivered', status: 200 });
    expect(trap.received).toHaveLength(1);
    const otherPort = createWebhookSender({
      policy: createEgressPolicy([`127.0.0.1:${trap.port + 1}`], resolver),
      timeoutMs: 2000,
    });
    expect((await otherPort(target(url), 'evt_1', body, new Date())).kind).toBe('failed');
    expect(trap.received).toHaveLength(1);
  });

  it('signs with every active secret during a rotation; each verifies with the reference library', async () => {
    const deliver = createWebhookSender({
      policy: createEgressPolicy([`127.0.0.1:${trap.port}`], resolver),
      timeoutMs: 2000,
    });
    await deliver(
      { url: trap.url, secrets: [TEST_WEBHOOK_SECRETS.rotated, TEST_WEBHOOK_SECRETS.alpha] },
      'evt_rot',
      body,
      new Date(),
    );
    const headers = trap.received[0]!.headers;
    const signatures = String(headers['webhook-signature']).split(' ');
    expect(signatures).toHaveLength(2);
    for (const secret of [TEST_WEBHOOK_SECRETS.rotated, TEST_WEBHOOK_SECRETS.alpha]) {
      expect(
        new Webhook(secret).verify(trap.received[0]!.body, {
          'webhook-id': String(headers['webhook-id']),
          'webhook-timestamp': String(headers['webhook-timestamp']),
          'webhook-signature': String(headers['webhook-signature']),
        }),
      ).toEqual(JSON.parse(body));
    }
    expect(() =>
      new Webhook(TEST_WEBHOOK_SECRETS.beta).verify(trap.received[0]!.body, {
        'webhook-id': String(headers['webhook-id']),
        'webhook-timestamp': String(headers['webhook-timestamp']),
        'webhook-signature': String(headers['webhook-signature']),
      }),
    ).toThrow();
  });

  it('gives up on a hanging receiver at the per-attempt timeout', async () => {
    trap.behave({ hang: true });
    const deliver = createWebhookSender({
      policy: createEgressPolicy([`127.0.0.1:${trap.port}`], resolver),
      timeoutMs: 300,
    });
    const started = Date.now();
    const outcome = await deliver(target(trap.url), 'evt_1', body, new Date());
    const elapsed = Date.now() - started;
    expect(outcome).toEqual({ kind: 'failed', status: null, error: 'timed out after 300 ms' });
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(1300);
  });

  it('reads Retry-After on a 429 and treats 410 as gone', async () => {
    const deliver = createWebhookSender({
      policy: createEgressPolicy([`127.0.0.1:${trap.port}`], resolver),
      timeoutMs: 2000,
    });
    trap.script([{ status: 429, headers: { 'Retry-After': '120' } }, 410]);
    expect(await deliver(target(trap.url), 'evt_1', body, new Date())).toEqual({
      kind: 'failed',
      status: 429,
      error: 'HTTP 429',
      retryAfterMs: 120_000,
    });
    expect(await deliver(target(trap.url), 'evt_1', body, new Date())).toEqual({ kind: 'gone', status: 410 });
  });
});

describe('retry schedule', () => {
  const schedule = loadConfig({}, {}).webhooks.retryScheduleSec;

  it('by default keeps trying for more than 24 hours, with growing gaps', () => {
    expect(schedule.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(86_400);
    schedule.slice(1).forEach((gap, i) => expect(gap).toBeGreaterThan(schedule[i]!));
  });

  it('jitters each gap within the configured fraction, then gives up (null) after the last', () => {
    expect(nextRetryDelayMs(1, [5, 300], 0.2, () => 0)).toBe(4000);
    expect(nextRetryDelayMs(1, [5, 300], 0.2, () => 0.999999)).toBe(6000);
    expect(nextRetryDelayMs(2, [5, 300], 0.2, () => 0.5)).toBe(300_000);
    expect(nextRetryDelayMs(3, [5, 300], 0.2, () => 0.5)).toBeNull();
  });

  it("never retries sooner than the receiver's Retry-After (capped at a day)", () => {
    expect(nextRetryDelayMs(1, [5, 300], 0.2, () => 0.5, 120_000)).toBe(120_000);
    expect(nextRetryDelayMs(1, [5, 300], 0.2, () => 0.5, 10 * 86_400_000)).toBe(86_400_000);
  });
});
