import request from 'supertest';
import { createSandbox, type Sandbox } from '../../src/sandbox';
import type { RunningServer } from '../../src/server';
import { TEST_APPKEY } from '../support/constants';
import { bearer, startTestGateway, tokenFor } from '../support/gateway';

// The account's spend against a sandbox whose balance goes down by the credits each send costs.
async function gatewayOn(sandbox: Sandbox, account: object): Promise<RunningServer> {
  return startTestGateway({
    mode: 'production',
    http: { requireHttps: false },
    upstream: { baseUrl: sandbox.apiUrl },
    inbound: { pollIntervalMs: 0 },
    optOuts: { importIntervalMs: 0 },
    account: { pollIntervalMs: 0, ...account },
  });
}

const lowBalanceEvents = (gw: RunningServer) =>
  gw.db
    .selectFrom('events')
    .select(['tenant_id', 'payload'])
    .where('type', '=', 'account.low_balance')
    .execute();

describe('account balance and account.low_balance', () => {
  let sandbox: Sandbox;
  let gw: RunningServer;
  afterEach(async () => {
    await gw?.stop();
    await sandbox?.stop();
  });

  async function start(balance: number, providerAlertBelow: number, account: object) {
    sandbox = createSandbox({
      appKeys: [TEST_APPKEY],
      callsPerSecond: 15,
      pageSize: 25,
      dlrDelayMs: 3_600_000,
      balance,
      lowBalanceThreshold: providerAlertBelow,
    });
    await sandbox.start(0, '127.0.0.1');
    gw = await gatewayOn(sandbox, account);
  }
  const sendOne = async (i: number) => {
    const sent = await request(gw.url)
      .post('/v1/messages')
      .set(bearer(tokenFor('alpha')))
      .send({ to: '0412345678', text: `Receipt ${i}`, purpose: 'transactional' });
    expect(sent.status).toBe(201);
  };

  it('fires once when the polled balance crosses the threshold, not on every send or poll after it', async () => {
    await start(1000, 0, { lowBalanceThreshold: 996 });
    const readings: (number | null)[] = [];
    for (let i = 0; i < 8; i++) {
      await sendOne(i);
      readings.push((await gw.gateway.account.pollOnce()).smsBalance);
    }
    expect(readings).toEqual([999, 998, 997, 996, 995, 994, 993, 992]);
    const events = await lowBalanceEvents(gw);
    // Told to the tenants allowed `admin` (ops), once.
    expect(events.map((e) => e.tenant_id)).toEqual(['ops']);
    expect(JSON.parse(events[0]!.payload).data).toMatchObject({
      smsBalance: 995,
      threshold: 996,
      source: 'balance',
    });
    // Every account read went through the upstream budget's queue, as a provider call.
    expect(sandbox.calls.filter((c) => c.endpoint === 'account')).toHaveLength(8);

    const usage = await request(gw.url)
      .get('/v1/admin/usage')
      .set(bearer(tokenFor('ops', { scope: 'admin' })));
    expect(usage.body.account).toMatchObject({ smsBalance: 992, low: true, lowBalanceThreshold: 996 });
    expect(Array.isArray(usage.body.data)).toBe(true);
    const metrics = await request(gw.url).get('/metrics');
    expect(metrics.text).toMatch(/smsgate_provider_balance_credits\{kind="sms"\} 992/);
  });

  it("the provider's own low-credit alert in send answers counts as the crossing, once", async () => {
    await start(1000, 997, {});
    for (let i = 0; i < 8; i++) {
      await sendOne(i);
      await gw.gateway.account.idle();
    }
    const events = await lowBalanceEvents(gw);
    expect(events).toHaveLength(1);
    expect(JSON.parse(events[0]!.payload).data).toMatchObject({ smsBalance: 996, source: 'provider_alert' });
  });
});
