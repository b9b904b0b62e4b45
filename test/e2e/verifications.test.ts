import Ajv2020 from 'ajv/dist/2020';
import request from 'supertest';
import { sql } from 'kysely';
import type { RunningServer } from '../../src/server';
import { TEST_WEBHOOK_SECRETS } from '../support/constants';
import { bearer, startTestGateway, tokenFor } from '../support/gateway';
import { captured } from '../support/leak-guard';
import { ManualClock } from '../support/manual-clock';
import { openEventStream, type SseStream } from '../support/sse';
import { waitFor } from '../support/wait';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';

// Verification codes end to end: a real gateway on a manual clock, the sandbox as the provider,
// webhooks to loopback receivers and event streams.

const ADMIN_SECRET = TEST_WEBHOOK_SECRETS.rotated;
const PREFIX_CAP = 10;
const FRAUD_MIN_REQUESTS = 20;

function verifyConfig(tenantHook: WebhookReceiver, adminHook: WebhookReceiver) {
  return {
    tenants: {
      alpha: {
        scopes: ['sms:send', 'sms:send:self', 'sms:read', 'verify:send', 'verify:check'],
        rateLimit: { requests: 100_000, windowSec: 60 },
        webhook: { url: tenantHook.url, secret: TEST_WEBHOOK_SECRETS.alpha },
        templates: {
          verify: {
            text: 'Your alpha code is {{code}}. It expires in 10 minutes.',
            fields: { code: { type: 'digits', maxLength: 10 } },
          },
        },
        verification: {
          template: 'verify',
          perPrefixPerHour: PREFIX_CAP,
          perCountryPerHour: 5_000,
          perIpPerHour: 5_000,
          fraud: { minRequests: FRAUD_MIN_REQUESTS, minApprovedRatio: 0.2 },
        },
      },
    },
    adminEvents: { webhook: { url: adminHook.url, secret: ADMIN_SECRET } },
    webhooks: {
      allowPrivateTargets: [`127.0.0.1:${tenantHook.port}`, `127.0.0.1:${adminHook.port}`],
    },
    verification: { sweepIntervalSec: 30 },
  };
}

describe('verification codes', () => {
  const clock = new ManualClock(Date.now());
  let gw: RunningServer;
  let tenantHook: WebhookReceiver;
  let adminHook: WebhookReceiver;
  let tenantStream: SseStream;
  let adminStream: SseStream;
  const sender = bearer(tokenFor('alpha', { scope: 'verify:send' }));
  const checker = bearer(tokenFor('alpha', { scope: 'verify:check' }));

  beforeAll(async () => {
    [tenantHook, adminHook] = [await startWebhookReceiver(), await startWebhookReceiver()];
    gw = await startTestGateway(verifyConfig(tenantHook, adminHook), clock);
    tenantStream = await openEventStream(`${gw.url}/v1/events`, bearer(tokenFor('alpha')));
    adminStream = await openEventStream(
      `${gw.url}/v1/admin/events`,
      bearer(tokenFor('ops', { scope: 'admin' })),
    );
  });
  afterAll(async () => {
    tenantStream.close();
    adminStream.close();
    await gw.stop();
    await tenantHook.close();
    await adminHook.close();
  });

  const sandbox = () => gw.sandbox!;
  const sendCalls = () => sandbox().calls.filter((call) => call.endpoint.includes('send-sms')).length;
  /** The code the sandbox received for a number: what the phone would show. */
  const codeSentTo = (to: string) => {
    const texts = [...sandbox().sent.values()].filter(
      (m) => m.to.replace(/^\+/, '') === to.replace(/^\+/, ''),
    );
    const last = texts[texts.length - 1];
    return /code is (\d+)/.exec(last?.body ?? '')?.[1] as string;
  };
  const start = (to: string) =>
    request(gw.url).post('/v1/verifications').set(sender).send({ to, channel: 'sms' });
  const check = (id: string, code: string) =>
    request(gw.url).post(`/v1/verifications/${id}/check`).set(checker).send({ code });

  it('sends a code with the tenant template: 201 pending, the code only in the SMS', async () => {
    clock.advance(1_000);
    const res = await start('0423 000 001');
    expect(res.status).toBe(201);
    expect(res.body.data).toEqual({
      id: expect.stringMatching(/^vrf_/),
      to: '+61423000001',
      status: 'pending',
      expiresAt: new Date(clock.now() + 600_000).toISOString(),
    });
    expect(codeSentTo('+61423000001')).toMatch(/^\d{6}$/);
    // The ledger keeps the text with the code masked.
    const ledger = await gw.db
      .selectFrom('messages')
      .select('text')
      .where('recipient', '=', '+61423000001')
      .execute();
    expect(ledger.map((m) => m.text)).toEqual(['Your alpha code is ••••••. It expires in 10 minutes.']);
  });

  it('the right code approves once, by id or by number; verification.approved reaches webhook and SSE', async () => {
    clock.advance(1_000);
    const res = await start('0423 000 002');
    const code = codeSentTo('+61423000002');
    const wrong = code === '000000' ? '111111' : '000000';
    const denied = await check(res.body.data.id, wrong);
    expect(denied.body.data).toMatchObject({ status: 'denied', reason: 'wrong_code', checksLeft: 4 });
    const approved = await request(gw.url)
      .post('/v1/verifications/check')
      .set(checker)
      .send({ to: '0423000002', code });
    expect(approved.status).toBe(200);
    expect(approved.body.data).toEqual({
      id: res.body.data.id,
      to: '+61423000002',
      status: 'approved',
      reason: null,
      checksLeft: 0,
    });
    const again = await check(res.body.data.id, code);
    expect(again.body.data).toMatchObject({ status: 'denied', reason: 'approved' });
    const hook = await waitFor(
      () => tenantHook.received.find((r) => r.body.includes('verification.approved')),
      10_000,
      'the approved webhook',
    );
    expect(JSON.parse(hook.body).data).toMatchObject({
      verificationId: res.body.data.id,
      status: 'approved',
    });
    await waitFor(
      () => tenantStream.events.find((e) => e.event === 'verification.approved'),
      10_000,
      'the approved SSE event',
    );
  });

  it('5 wrong checks lock the code: the right one is then denied', async () => {
    clock.advance(1_000);
    const res = await start('0423 000 003');
    const code = codeSentTo('+61423000003');
    const wrong = code === '000000' ? '111111' : '000000';
    const left: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const denied = await check(res.body.data.id, wrong);
      expect(denied.body.data).toMatchObject({ status: 'denied', reason: 'wrong_code' });
      left.push(denied.body.data.checksLeft);
    }
    expect(left).toEqual([4, 3, 2, 1, 0]);
    const locked = await check(res.body.data.id, code);
    expect(locked.body.data).toMatchObject({ status: 'denied', reason: 'locked', checksLeft: 0 });
  });

  it('a new code cancels the previous one; the resend cooldown holds', async () => {
    clock.advance(1_000);
    const first = await start('0423 000 004');
    const firstCode = codeSentTo('+61423000004');
    const tooSoon = await start('0423 000 004');
    expect(tooSoon.status).toBe(429);
    expect(tooSoon.headers['retry-after']).toBe('30');
    clock.advance(30_000);
    const second = await start('0423 000 004');
    expect(second.status).toBe(201);
    const old = await check(first.body.data.id, firstCode);
    expect(old.body.data).toMatchObject({ status: 'denied', reason: 'canceled' });
    const fresh = await check(second.body.data.id, codeSentTo('+61423000004'));
    expect(fresh.body.data.status).toBe('approved');
  });

  it('an unchecked code expires after 10 minutes: verification.expired on webhook and SSE', async () => {
    clock.advance(1_000);
    const res = await start('0423 000 005');
    clock.advance(600_000);
    // The sweeper runs every 30 s of the clock: move it on until a sweep has seen the code expired.
    const hook = await waitFor(
      () => {
        const found = tenantHook.received.find(
          (r) => r.body.includes(res.body.data.id) && r.body.includes('verification.expired'),
        );
        if (!found) clock.advance(10_000);
        return found;
      },
      10_000,
      'the expired webhook',
    );
    expect(JSON.parse(hook.body).data).toMatchObject({ status: 'expired', to: '+61423000005' });
    await waitFor(
      () =>
        tenantStream.events.find(
          (e) => e.event === 'verification.expired' && e.data.includes(res.body.data.id),
        ),
      10_000,
      'the expired SSE event',
    );
    const late = await check(res.body.data.id, codeSentTo('+61423000005'));
    expect(late.body.data).toMatchObject({ status: 'denied', reason: 'expired' });
  });

  it('1,000 requests to sequential numbers of one range, never checked: at most the range cap reaches the provider, fraud.suspected once', async () => {
    const before = sendCalls();
    const statuses = new Map<number, number>();
    // In rounds of 25 at once: each request is decided in the store's per-tenant transaction, so
    // the outcomes are the same as one by one. 1,000 s of clock in all: one hour's window.
    for (let round = 0; round < 40; round += 1) {
      clock.advance(25_000);
      const answers = await Promise.all(
        Array.from({ length: 25 }, (_, i) => start(`+61412000${String(round * 25 + i).padStart(3, '0')}`)),
      );
      for (const res of answers) statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
    expect(sendCalls() - before).toBeLessThanOrEqual(PREFIX_CAP);
    expect(sendCalls() - before).toBe(PREFIX_CAP);
    // The cap (429) until the range has FRAUD_MIN_REQUESTS requests, then refused as suspected (403).
    expect(Object.fromEntries(statuses)).toEqual({
      201: PREFIX_CAP,
      429: FRAUD_MIN_REQUESTS - 1 - PREFIX_CAP,
      403: 1000 - FRAUD_MIN_REQUESTS + 1,
    });
    const alert = await waitFor(() => adminHook.received[0], 10_000, 'the admin webhook');
    expect(JSON.parse(alert.body)).toMatchObject({
      type: 'fraud.suspected',
      data: { tenant: 'alpha', range: '+6141200', requests: FRAUD_MIN_REQUESTS, approved: 0 },
    });
    await waitFor(() => adminStream.events.find((e) => e.event === 'fraud.suspected'), 10_000, 'admin SSE');
    const stored = await gw.db
      .selectFrom('events')
      .select('type')
      .where('type', '=', 'fraud.suspected')
      .execute();
    expect(stored).toHaveLength(1);
    expect(adminHook.received).toHaveLength(1);
    expect(adminStream.events.filter((e) => e.event === 'fraud.suspected')).toHaveLength(1);
    // As documented in /openapi.json `webhooks`.
    const document = (await request(gw.url).get('/openapi.json')).body;
    const ajv = new Ajv2020({ strict: false });
    ajv.addSchema(document, 'openapi');
    for (const [type, body] of [
      ['fraud.suspected', alert.body],
      [
        'verification.expired',
        tenantHook.received.find((r) => r.body.includes('verification.expired'))!.body,
      ],
    ] as const) {
      const validate = ajv.getSchema(
        `openapi#/webhooks/${type}/post/requestBody/content/application~1json/schema`,
      )!;
      expect({ type, valid: validate(JSON.parse(body)), errors: validate.errors ?? null }).toEqual({
        type,
        valid: true,
        errors: null,
      });
    }
    // Nothing of it reaches the tenant's own channels.
    expect(tenantStream.events.filter((e) => e.event === 'fraud.suspected')).toHaveLength(0);
  }, 120_000);

  it('the code never appears in a log line, a response, an event or the database', async () => {
    const codes = [...sandbox().sent.values()]
      .map((m) => /code is (\d+)/.exec(m.body)?.[1])
      .filter((code): code is string => code !== undefined);
    expect(codes.length).toBeGreaterThanOrEqual(PREFIX_CAP + 5);
    const tables = await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(
      gw.db,
    );
    const rows: string[] = [];
    for (const { name } of tables.rows) {
      const all = await sql<Record<string, unknown>>`select * from ${sql.table(name)}`.execute(gw.db);
      rows.push(...all.rows.map((row) => JSON.stringify(row)));
    }
    const events = [
      ...tenantHook.received.map((r) => r.body),
      ...adminHook.received.map((r) => r.body),
      ...tenantStream.events.map((e) => e.data),
      ...adminStream.events.map((e) => e.data),
    ];
    // A code standing alone, as a leak would show it ("code is 123456.", "code":"123456"); ids,
    // hashes and timestamps hold runs of digits inside longer words, which are not it.
    const holds = (text: string) =>
      codes.some((code) => new RegExp(`(?<![0-9A-Za-z])${code}(?![0-9A-Za-z])`).test(text));
    expect(rows.length).toBeGreaterThan(100);
    expect(events.length).toBeGreaterThan(3);
    expect({
      logs: captured.logLines.filter(holds),
      responses: captured.responses.filter(holds),
      events: events.filter(holds),
      rows: rows.filter(holds),
    }).toEqual({ logs: [], responses: [], events: [], rows: [] });
  });

  it("an end user's token (sms:send:self) asks codes only for its own number: another is 403 and nothing is sent", async () => {
    const endUser = bearer(
      tokenFor('alpha', {
        scope: 'verify:send sms:send:self',
        extra: { sub: 'eve', phone_number: '+61 423 000 077', phone_number_verified: false },
      }),
    );
    const before = sendCalls();
    const other = await request(gw.url)
      .post('/v1/verifications')
      .set(endUser)
      .send({ to: '0423000078', channel: 'sms' });
    expect(other.status).toBe(403);
    expect(other.body.error.description).toMatch(/^to: with 'sms:send:self' a token may verify only its own/);
    expect(sendCalls()).toBe(before);
    const own = await request(gw.url)
      .post('/v1/verifications')
      .set(endUser)
      .send({ to: '0423000077', channel: 'sms' });
    expect(own.status).toBe(201);
    await waitFor(() => sendCalls() === before + 1, 5000, 'the code to the own number');
  });

  it('scopes: verify:send cannot check, verify:check cannot send, a tenant without verification is refused', async () => {
    const noCheck = await request(gw.url)
      .post('/v1/verifications/check')
      .set(sender)
      .send({ to: '0423000009', code: '123456' });
    expect(noCheck.status).toBe(403);
    const noSend = await request(gw.url)
      .post('/v1/verifications')
      .set(checker)
      .send({ to: '0423000009', channel: 'sms' });
    expect(noSend.status).toBe(403);
    const beta = await request(gw.url)
      .post('/v1/verifications')
      .set(bearer(tokenFor('beta', { scope: 'sms:send' })))
      .send({ to: '0423000009', channel: 'sms' });
    expect(beta.status).toBe(403);
  });
});
