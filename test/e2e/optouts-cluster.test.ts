import request from 'supertest';
import { createSandbox, type Sandbox } from '../../src/sandbox';
import { TEST_APPKEY, TEST_CALLBACK_TOKEN } from '../support/constants';
import { createPostgresSchema } from '../support/databases';
import { bearer, tokenFor } from '../support/gateway';
import { startReplicas, type GatewayProcess } from '../support/processes';

// Opt-outs across replicas: two gateway processes on one PostgreSQL (a fresh schema) and one Redis,
// in front of one sandbox account. A STOP taken in by one replica is in force on the other as soon
// as the provider has its 200 (the list is a table both read on every marketing send; no cache).
const REPLICAS = 2;
const NUMBER = '+61412555001';

describe('opt-outs on two replicas sharing PostgreSQL', () => {
  let sandbox: Sandbox;
  let dropSchema: () => Promise<void>;
  const gateways: GatewayProcess[] = [];
  const urls: string[] = [];

  beforeAll(async () => {
    sandbox = createSandbox({
      appKeys: [TEST_APPKEY],
      callsPerSecond: 15,
      pageSize: 25,
      dlrDelayMs: 3_600_000,
    });
    await sandbox.start(0, '127.0.0.1');
    const schema = await createPostgresSchema();
    dropSchema = schema.drop;
    const started = await startReplicas(REPLICAS, {
      config: {
        http: { requireHttps: false },
        redis: { keyPrefix: `smsgate-optouts-${process.pid}-${Date.now()}` },
        upstream: { maxQueueWaitMs: 30_000 },
        tenants: { alpha: {}, beta: {} },
        inbound: { pollIntervalMs: 0 },
        optOuts: { importIntervalMs: 0 },
        account: { pollIntervalMs: 0 },
      },
      upstreamUrl: sandbox.apiUrl,
      databaseUrl: schema.url,
    });
    gateways.push(...started.gateways);
    urls.push(...started.urls);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.kill()));
    await sandbox?.stop();
    await dropSchema?.();
  });

  const send = (replica: number, tenant: string, body: object) =>
    request(urls[replica]!)
      .post('/v1/messages')
      .set(bearer(tokenFor(tenant)))
      .send(body);
  const providerCallsTo = (number: string) =>
    sandbox.calls.filter(
      (c) => c.endpoint === 'send-sms' && JSON.stringify(c.body).includes(number.replace('+', '')),
    ).length;

  it("a reply 'Stop.' taken in by one replica: the next marketing send through the other is suppressed, never reaching the provider", async () => {
    const first = await send(0, 'alpha', {
      to: NUMBER,
      text: 'Sale today! Reply STOP to opt out',
      purpose: 'marketing',
    });
    expect(first.status).toBe(201);
    expect(first.body.data.messages[0]).toMatchObject({ status: 'sent', purpose: 'marketing' });
    const original = [...sandbox.sent.values()].find((m) => m.body.startsWith('Sale today!'))!;

    // The provider posts the reply to replica 0; once it has its 200, the opt-out is committed.
    const reply = await request(urls[0]!)
      .post(`/v1/callbacks/cellcast/${TEST_CALLBACK_TOKEN}/inbound`)
      .send([
        {
          from: NUMBER.replace('+', ''),
          body: 'Stop.',
          message_id: '7000000001',
          original_message_id: original.messageId,
          received_at: '2026-11-25 10:00:00',
          type: 'SMS',
        },
      ]);
    expect(reply.status).toBe(200);

    const callsBefore = providerCallsTo(NUMBER);
    // No wait at all: the very next marketing send, through the other replica.
    const marketing = await send(1, 'alpha', {
      to: [NUMBER, '+61412555002'],
      text: 'Another sale! Reply STOP to opt out',
    });
    expect(marketing.status).toBe(201);
    const byNumber = Object.fromEntries(
      marketing.body.data.messages.map((m: { to: string; status: string }) => [m.to, m.status]),
    );
    expect(byNumber).toEqual({ [NUMBER]: 'suppressed', '+61412555002': 'sent' });
    expect(marketing.body.data.segments).toBe(1); // the suppressed one costs nothing
    expect(providerCallsTo(NUMBER)).toBe(callsBefore);
    const stored = await request(urls[0]!)
      .get(`/v1/messages/${marketing.body.data.messages.find((m: { to: string }) => m.to === NUMBER).id}`)
      .set(bearer(tokenFor('alpha')));
    expect(stored.body.data).toMatchObject({
      status: 'suppressed',
      purpose: 'marketing',
      providerMessageId: null,
    });

    // A transactional send to the same number still goes, recorded as transactional.
    const receipt = await send(0, 'alpha', {
      to: NUMBER,
      text: 'Your order has shipped',
      purpose: 'transactional',
    });
    expect(receipt.body.data.messages[0]).toMatchObject({ status: 'sent', purpose: 'transactional' });
    expect(providerCallsTo(NUMBER)).toBe(callsBefore + 1);

    // Tenant B's list is its own: its marketing to the number still goes.
    const other = await send(1, 'beta', { to: NUMBER, text: 'Beta news. Reply STOP to opt out' });
    expect(other.body.data.messages[0].status).toBe('sent');
  }, 60_000);
});
