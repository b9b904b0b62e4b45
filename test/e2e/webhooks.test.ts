import request from 'supertest';
import { Webhook } from 'standardwebhooks';
import type { RunningServer } from '../../src/server';
import { TEST_CALLBACK_TOKEN, TEST_WEBHOOK_SECRETS } from '../support/constants';
import { bearer, startTestGateway, tokenFor } from '../support/gateway';
import { ManualClock } from '../support/manual-clock';
import { openEventStream, type SseStream } from '../support/sse';
import { waitFor } from '../support/wait';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';

const callbacks = `/v1/callbacks/cellcast/${TEST_CALLBACK_TOKEN}`;

/** Tenants alpha and beta each with a webhook to their own loopback receiver (allowlisted by port). */
function webhookTenants(alpha: WebhookReceiver, beta: WebhookReceiver, extra: Record<string, unknown> = {}) {
  return {
    tenants: {
      alpha: { webhook: { url: alpha.url, secret: TEST_WEBHOOK_SECRETS.alpha } },
      beta: { webhook: { url: beta.url, secret: TEST_WEBHOOK_SECRETS.beta } },
    },
    webhooks: { allowPrivateTargets: [`127.0.0.1:${alpha.port}`, `127.0.0.1:${beta.port}`], ...extra },
  };
}

/**
 * The upstream budget paces its grants on the gateway's clock (one every ~70 ms): with a manual
 * clock, a send right after another waits until the test moves the clock past that spacing.
 */
const PACE_MS = 100;

async function sendAs(clock: ManualClock, gw: RunningServer, tenant: string, to = '0412345678') {
  clock.advance(PACE_MS);
  const res = await request(gw.url)
    .post('/v1/messages')
    .set(bearer(tokenFor(tenant)))
    .send({ to, text: `hello from ${tenant}` });
  expect(res.status).toBe(201);
  const id = res.body.data.messages[0].id as string;
  const detail = await request(gw.url)
    .get(`/v1/messages/${id}`)
    .set(bearer(tokenFor(tenant)));
  return { id, providerId: detail.body.data.providerMessageId as string };
}

describe('events reach the right tenant by webhook and SSE (sandbox DLRs and replies)', () => {
  // The sandbox's delivery reports fall due on this clock, so each arrives when the test says. It
  // starts at the real time: receivers check webhook timestamps against their own clocks.
  const clock = new ManualClock(Date.now());
  const DLR_DELAY_MS = 30;
  let gw: RunningServer;
  let alpha: WebhookReceiver;
  let beta: WebhookReceiver;
  let alphaStream: SseStream;
  let betaStream: SseStream;

  beforeAll(async () => {
    [alpha, beta] = [await startWebhookReceiver(), await startWebhookReceiver()];
    gw = await startTestGateway(
      { ...webhookTenants(alpha, beta), sandbox: { dlrDelayMs: DLR_DELAY_MS } },
      clock,
    );
    alphaStream = await openEventStream(`${gw.url}/v1/events`, bearer(tokenFor('alpha')));
    betaStream = await openEventStream(`${gw.url}/v1/events`, bearer(tokenFor('beta')));
  });
  afterAll(async () => {
    alphaStream.close();
    betaStream.close();
    await gw.stop();
    await alpha.close();
    await beta.close();
  });

  it("send → the sandbox's DLR → one signed message.status to the sender's webhook and SSE, nothing to anyone else", async () => {
    expect([alphaStream.status, betaStream.status]).toEqual([200, 200]);
    const { id } = await sendAs(clock, gw, 'alpha');
    clock.advance(DLR_DELAY_MS);
    const hook = await waitFor(() => alpha.received[0], 10_000, 'the webhook');
    // Verified by the Standard Webhooks reference library (signature and timestamp tolerance).
    const verified = new Webhook(TEST_WEBHOOK_SECRETS.alpha).verify(hook.body, {
      'webhook-id': String(hook.headers['webhook-id']),
      'webhook-timestamp': String(hook.headers['webhook-timestamp']),
      'webhook-signature': String(hook.headers['webhook-signature']),
    });
    expect(verified).toMatchObject({
      type: 'message.status',
      id: hook.headers['webhook-id'],
      data: { messageId: id, status: 'delivered', providerStatus: 'Delivered', to: '+61412345678' },
    });
    const streamed = await waitFor(() => alphaStream.events[0], 10_000, 'the SSE event');
    expect(streamed.event).toBe('message.status');
    expect(streamed.data).toBe(hook.body);

    await gw.gateway.webhooks.runOnce();
    expect(alpha.received).toHaveLength(1);
    expect(beta.received).toHaveLength(0);
    expect(betaStream.events).toHaveLength(0);
    const asBeta = await request(gw.url)
      .get(`/v1/messages/${id}`)
      .set(bearer(tokenFor('beta')));
    expect(asBeta.status).toBe(404);
  });

  it('with the sandbox posting every report 3 times and out of order, each (message, status) is one event', async () => {
    gw.sandbox!.setFaults({ callbackDuplicates: 2, callbackOutOfOrder: true });
    const before = {
      hooks: alpha.received.length,
      streamed: alphaStream.events.length,
      posted: gw.sandbox!.reportsPosted.length,
    };
    clock.advance(PACE_MS);
    const res = await request(gw.url)
      .post('/v1/messages')
      .set(bearer(tokenFor('alpha')))
      .send({ to: ['0412100001', '0412100002', '0412100003'], text: 'chaos' });
    const ids: string[] = res.body.data.messages.map((m: { id: string }) => m.id);
    clock.advance(DLR_DELAY_MS);
    // A copy counts as posted once the gateway has answered it (its events are stored by then).
    await waitFor(() => gw.sandbox!.reportsPosted.length >= before.posted + 3, 10_000, 'three copies posted');
    const batch = gw.sandbox!.reportsPosted.at(-1)!;
    expect(batch.map((r) => r.status)).toEqual([
      'Delivered',
      'Dispatched',
      'Delivered',
      'Dispatched',
      'Delivered',
      'Dispatched',
    ]);
    // Every outbox row those copies made is attempted by the time a full pass has finished.
    await gw.gateway.webhooks.runOnce();
    gw.sandbox!.setFaults({ callbackDuplicates: 0, callbackOutOfOrder: false });
    // SSE: a marker event published after every copy was answered; the stream keeps order, so
    // once the marker is here any (wrong) extra event from the copies is here too.
    const marker = await sendAs(clock, gw, 'alpha', '0412100009');
    clock.advance(DLR_DELAY_MS);
    await waitFor(
      () => alphaStream.events.some((e) => JSON.parse(e.data).data.messageId === marker.id),
      10_000,
      'the marker event',
    );
    await gw.gateway.webhooks.runOnce();

    const notMarker = (event: { data: { messageId: string } }) => event.data.messageId !== marker.id;
    const hooks = alpha.received
      .slice(before.hooks)
      .map((r) => JSON.parse(r.body))
      .filter(notMarker);
    const streamed = alphaStream.events
      .slice(before.streamed)
      .map((e) => JSON.parse(e.data))
      .filter(notMarker);
    for (const events of [hooks, streamed]) {
      expect(events.map((e) => e.data.messageId).sort()).toEqual([...ids].sort());
      expect(events.every((e) => e.data.status === 'delivered')).toBe(true);
    }
    for (const id of ids) {
      const detail = await request(gw.url)
        .get(`/v1/messages/${id}`)
        .set(bearer(tokenFor('alpha')));
      expect(detail.body.data.status).toBe('delivered');
    }
  });

  it("a reply to alpha's message reaches only alpha: webhook, SSE and GET /v1/inbound", async () => {
    const { id, providerId } = await sendAs(clock, gw, 'alpha', '0412000111');
    clock.advance(DLR_DELAY_MS);
    const isDlr = (body: string) => JSON.parse(body).data.messageId === id;
    await waitFor(
      () => alpha.received.some((r) => isDlr(r.body)) && alphaStream.events.some((e) => isDlr(e.data)),
      10_000,
      'the DLR event',
    );
    gw.sandbox!.injectInbound({ from: '+61412000111', body: 'yes please', originalMessageId: providerId });

    const hook = await waitFor(
      () => alpha.received.find((r) => JSON.parse(r.body).type === 'message.inbound'),
      10_000,
      'the inbound webhook',
    );
    const event = JSON.parse(hook.body);
    expect(event.data).toMatchObject({ from: '+61412000111', text: 'yes please', routedBy: 'reply' });
    const streamed = await waitFor(
      () => alphaStream.events.find((e) => e.event === 'message.inbound'),
      10_000,
      'the inbound SSE event',
    );
    expect(streamed.data).toBe(hook.body);
    const inbox = await request(gw.url)
      .get('/v1/inbound')
      .set(bearer(tokenFor('alpha')));
    expect(inbox.body.data.map((m: { text: string }) => m.text)).toContain('yes please');

    await gw.gateway.webhooks.runOnce();
    expect(beta.received).toHaveLength(0);
    expect(betaStream.events).toHaveLength(0);
    const betaInbox = await request(gw.url)
      .get('/v1/inbound')
      .set(bearer(tokenFor('beta')));
    expect(betaInbox.body.data).toEqual([]);
  });
});

describe('webhook retries, dead letters and 410 (driven by a manual clock)', () => {
  const clock = new ManualClock();
  let gw: RunningServer;
  let alpha: WebhookReceiver;
  let beta: WebhookReceiver;
  let trap: WebhookReceiver;
  const schedule = [5, 300, 1800];

  beforeAll(async () => {
    [alpha, beta, trap] = [
      await startWebhookReceiver(),
      await startWebhookReceiver(),
      await startWebhookReceiver(),
    ];
    gw = await startTestGateway(
      // Only the test moves deliveries along: no polling in real time.
      webhookTenants(alpha, beta, { retryScheduleSec: schedule, jitter: 0.2, pollIntervalMs: 3_600_000 }),
      clock,
    );
    gw.sandbox!.configureCallbacks({ dlr: 'http://127.0.0.1:9/' });
  });
  afterAll(async () => {
    await gw.stop();
    await Promise.all([alpha.close(), beta.close(), trap.close()]);
  });

  /** A new message.status event for alpha: a send, then the provider's report for it. */
  async function newAlphaEvent(): Promise<string> {
    const { providerId } = await sendAs(clock, gw, 'alpha');
    const res = await request(gw.url)
      .post(`${callbacks}/dlr`)
      .send([{ message_id: providerId, status: 'Delivered', recipient: '61412345678' }]);
    expect(res.body.data.applied).toBe(1);
    await gw.gateway.webhooks.runOnce();
    const row = await gw.db
      .selectFrom('webhook_deliveries')
      .select('event_id')
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();
    return row.event_id;
  }
  const delivery = (eventId: string) =>
    gw.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('event_id', '=', eventId)
      .executeTakeFirstOrThrow();

  /** Moves the clock to just before the next attempt (nothing happens), then onto it (one attempt). */
  async function stepToNextAttempt(eventId: string, receiver: WebhookReceiver): Promise<void> {
    const due = Date.parse((await delivery(eventId)).next_attempt_at);
    const before = receiver.received.length;
    clock.advance(due - clock.now() - 1);
    await gw.gateway.webhooks.runOnce();
    expect(receiver.received).toHaveLength(before);
    clock.advance(1);
    await gw.gateway.webhooks.runOnce();
    expect(receiver.received).toHaveLength(before + 1);
  }

  it('receiver answers 500, 500, 500, 200 → four attempts, growing gaps within the jitter, one webhook-id', async () => {
    alpha.received.length = 0;
    alpha.script([500, 500, 500], 200);
    const eventId = await newAlphaEvent();
    expect(alpha.received).toHaveLength(1);
    const gaps: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const row = await delivery(eventId);
      expect(row).toMatchObject({ state: 'pending', attempts: attempt, last_status: 500 });
      gaps.push(Date.parse(row.next_attempt_at) - clock.now());
      await stepToNextAttempt(eventId, alpha);
    }
    expect(await delivery(eventId)).toMatchObject({ state: 'done', attempts: 4, last_status: 200 });
    gaps.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(schedule[i]! * 1000 * 0.8);
      expect(gap).toBeLessThanOrEqual(schedule[i]! * 1000 * 1.2);
    });
    expect(gaps[1]!).toBeGreaterThan(gaps[0]!);
    expect(gaps[2]!).toBeGreaterThan(gaps[1]!);

    expect(new Set(alpha.received.map((r) => r.headers['webhook-id']))).toEqual(new Set([eventId]));
    const stamps = alpha.received.map((r) => Number(r.headers['webhook-timestamp']));
    expect([...stamps].sort((a, b) => a - b)).toEqual(stamps);
    expect(new Set(stamps).size).toBe(4); // a fresh timestamp per attempt
    for (const hit of alpha.received) {
      // Each attempt's signature is the reference library's signature for that attempt's timestamp.
      const at = new Date(Number(hit.headers['webhook-timestamp']) * 1000);
      expect(hit.headers['webhook-signature']).toBe(
        new Webhook(TEST_WEBHOOK_SECRETS.alpha).sign(eventId, at, hit.body),
      );
      expect(hit.body).toBe(alpha.received[0]!.body);
    }
  });

  it('a receiver that keeps failing is dead-lettered after the schedule; an admin lists and replays it with the same webhook-id', async () => {
    alpha.received.length = 0;
    alpha.script([], 503);
    const eventId = await newAlphaEvent();
    for (let i = 0; i < schedule.length; i++) await stepToNextAttempt(eventId, alpha);
    expect(await delivery(eventId)).toMatchObject({ state: 'dead', attempts: 4, last_status: 503 });
    clock.advance(86_400_000);
    await gw.gateway.webhooks.runOnce();
    expect(alpha.received).toHaveLength(4);

    const forbidden = await request(gw.url)
      .get('/v1/admin/webhooks/dead-letters')
      .set(bearer(tokenFor('alpha')));
    expect(forbidden.status).toBe(403);
    const list = await request(gw.url)
      .get('/v1/admin/webhooks/dead-letters?tenant=alpha')
      .set(bearer(tokenFor('ops', { scope: 'admin' })));
    expect(list.status).toBe(200);
    expect(list.body.page).toEqual({ count: 1, number: 1 });
    const dead = list.body.data.find((d: { eventId: string }) => d.eventId === eventId);
    expect(dead).toMatchObject({ tenantId: 'alpha', type: 'message.status', attempts: 4, lastStatus: 503 });

    alpha.script([], 200);
    const replay = await request(gw.url)
      .post(`/v1/admin/webhooks/dead-letters/${dead.id}/replay`)
      .set(bearer(tokenFor('ops', { scope: 'admin' })));
    expect(replay.status).toBe(200);
    await waitFor(() => alpha.received.length === 5, 10_000, 'the replayed delivery');
    await gw.gateway.webhooks.runOnce();
    expect(alpha.received[4]!.headers['webhook-id']).toBe(eventId);
    expect(await delivery(eventId)).toMatchObject({ state: 'done' });
    const again = await request(gw.url)
      .post(`/v1/admin/webhooks/dead-letters/${dead.id}/replay`)
      .set(bearer(tokenFor('ops', { scope: 'admin' })));
    expect(again.status).toBe(404);
  });

  it('a 301 is not followed: the attempt fails and the redirect target is never called', async () => {
    alpha.received.length = 0;
    alpha.behave({ redirectTo: trap.url });
    const eventId = await newAlphaEvent();
    expect(alpha.received).toHaveLength(1);
    expect(trap.received).toHaveLength(0);
    expect(await delivery(eventId)).toMatchObject({
      state: 'pending',
      last_status: 301,
      last_error: 'redirect not followed',
    });
    alpha.behave({});
    await stepToNextAttempt(eventId, alpha);
    expect(await delivery(eventId)).toMatchObject({ state: 'done' });
  });

  it('410 Gone disables the endpoint: no further attempts until an admin re-enables it', async () => {
    beta.script([410], 200);
    const { providerId } = await sendAs(clock, gw, 'beta');
    await request(gw.url)
      .post(`${callbacks}/dlr`)
      .send([{ message_id: providerId, status: 'Delivered' }]);
    await gw.gateway.webhooks.runOnce();
    expect(beta.received).toHaveLength(1);
    const first = await gw.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('tenant_id', '=', 'beta')
      .executeTakeFirstOrThrow();
    expect(first).toMatchObject({ state: 'dead', last_status: 410 });

    // Later events for beta are not attempted at all.
    const second = await sendAs(clock, gw, 'beta', '0412999888');
    await request(gw.url)
      .post(`${callbacks}/dlr`)
      .send([{ message_id: second.providerId, status: 'Delivered' }]);
    await gw.gateway.webhooks.runOnce();
    clock.advance(86_400_000);
    await gw.gateway.webhooks.runOnce();
    expect(beta.received).toHaveLength(1);

    const admin = bearer(tokenFor('ops', { scope: 'admin' }));
    const enable = await request(gw.url).post('/v1/admin/webhooks/beta/enable').set(admin);
    expect(enable.body.data).toEqual({ tenant: 'beta', enabled: true, wasDisabled: true });
    const dead = await request(gw.url).get('/v1/admin/webhooks/dead-letters?tenant=beta').set(admin);
    expect(dead.body.data).toHaveLength(2);
    for (const letter of dead.body.data) {
      await request(gw.url).post(`/v1/admin/webhooks/dead-letters/${letter.id}/replay`).set(admin);
    }
    await waitFor(() => beta.received.length === 3, 10_000, 'the replayed deliveries');
    const ids = beta.received.map((r) => r.headers['webhook-id']);
    expect(ids[0]).toBe(first.event_id);
    expect(new Set(ids.slice(1))).toEqual(new Set(dead.body.data.map((d: { eventId: string }) => d.eventId)));
  });
});
