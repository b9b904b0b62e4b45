import request from 'supertest';
import type { RunningServer } from '../../src/server';
import { TEST_CALLBACK_TOKEN, TEST_WEBHOOK_SECRETS } from '../support/constants';
import { bearer, startTestGateway, tokenFor } from '../support/gateway';
import { waitFor } from '../support/wait';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';

const inboundPath = `/v1/callbacks/cellcast/${TEST_CALLBACK_TOKEN}/inbound`;
let replyIds = 8_000_000_000;

const send = (gw: RunningServer, tenant: string, body: object, headers: Record<string, string> = {}) =>
  request(gw.url)
    .post('/v1/messages')
    .set({ ...bearer(tokenFor(tenant)), ...headers })
    .send(body);
const admin = () => bearer(tokenFor('ops', { scope: 'admin' }));

/** A message of `tenant` to `number`, and the provider id a reply to it names. */
async function sentTo(gw: RunningServer, tenant: string, number: string): Promise<string> {
  const sent = await send(gw, tenant, { to: number, text: 'Hello! Reply STOP to opt out' });
  expect(sent.status).toBe(201);
  const detail = await request(gw.url)
    .get(`/v1/messages/${sent.body.data.messages[0].id}`)
    .set(bearer(tokenFor(tenant)));
  return detail.body.data.providerMessageId as string;
}

/** The provider posting a reply; once it has its 200, the reply and its effects are committed. */
async function reply(gw: RunningServer, number: string, text: string, original?: string): Promise<void> {
  replyIds += 1;
  const item = {
    from: number.replace('+', ''),
    body: text,
    message_id: String(replyIds),
    received_at: '2026-11-25 10:00:00',
    type: 'SMS',
    ...(original ? { original_message_id: original } : {}),
  };
  expect((await request(gw.url).post(inboundPath).send([item])).status).toBe(200);
}

const providerSendsTo = (gw: RunningServer, number: string) =>
  [...gw.sandbox!.sent.values()].filter((m) => `+${m.to.replace('+', '')}` === number);

describe('opt-outs per tenant (sandbox)', () => {
  let gw: RunningServer;
  let hooks: WebhookReceiver;
  beforeAll(async () => {
    hooks = await startWebhookReceiver();
    gw = await startTestGateway({
      inbound: { pollIntervalMs: 0 },
      webhooks: { allowPrivateTargets: [`127.0.0.1:${hooks.port}`], pollIntervalMs: 100 },
      tenants: {
        alpha: {
          webhook: { url: hooks.url, secret: TEST_WEBHOOK_SECRETS.alpha },
          optOut: {
            requireInstruction: 'append',
            acknowledgement: {
              optedOut: 'You are unsubscribed. Reply START to rejoin',
              optedIn: 'Welcome back',
            },
          },
        },
        beta: { optOut: { requireInstruction: 'refuse', keywords: ['STOP', 'ARRET'] } },
      },
    });
  });
  afterAll(async () => {
    await gw.stop();
    await hooks.close();
  });

  it("'Stop.' to alpha's message: alpha's next marketing is suppressed (no provider call, no quota), transactional still goes, beta unaffected", async () => {
    const number = '+61412600001';
    const original = await sentTo(gw, 'alpha', number);
    await reply(gw, number, 'Stop.', original);
    const before = providerSendsTo(gw, number).length;

    const marketing = await send(gw, 'alpha', { to: number, text: 'Big sale. Reply STOP to opt out' });
    expect(marketing.status).toBe(201);
    expect(marketing.body.data).toMatchObject({ total: 1, segments: 0, credits: 0 });
    expect(marketing.body.data.messages[0]).toMatchObject({ status: 'suppressed', purpose: 'marketing' });
    expect(marketing.body.data.messages[0].error).toMatch(/opted out/);

    const transactional = await send(gw, 'alpha', {
      to: number,
      text: 'Your code is 1234',
      purpose: 'transactional',
    });
    expect(transactional.body.data.messages[0]).toMatchObject({ status: 'sent', purpose: 'transactional' });
    const beta = await send(gw, 'beta', { to: number, text: 'Beta offer, reply STOP to opt out' });
    expect(beta.body.data.messages[0].status).toBe('sent');
    // The acknowledgement (transactional, through the budget) plus the two sends above.
    await gw.gateway.optOuts.acknowledger.idle();
    const texts = providerSendsTo(gw, number)
      .slice(before)
      .map((m) => m.body);
    expect(texts.sort()).toEqual(
      [
        'Beta offer, reply STOP to opt out',
        'You are unsubscribed. Reply START to rejoin',
        'Your code is 1234',
      ].sort(),
    );

    // The event reached alpha's webhook.
    const optedOut = await waitFor(
      () =>
        hooks.received
          .map((h) => JSON.parse(h.body))
          .find((e) => e.type === 'contact.opted_out' && e.data.number === number),
      10_000,
      'contact.opted_out webhook',
    );
    expect(optedOut.data).toMatchObject({ scope: 'tenant', source: 'reply' });
  });

  it('START takes the number off again; keywords ignore case, spaces and punctuation; one acknowledgement a day', async () => {
    const number = '+61412600002';
    const original = await sentTo(gw, 'alpha', number);
    await reply(gw, number, '  opt-OUT! ', original);
    expect(
      (await send(gw, 'alpha', { to: number, text: 'Offer. Reply STOP to opt out' })).body.data.messages[0]
        .status,
    ).toBe('suppressed');
    await reply(gw, number, 'Start', original);
    expect(
      (await send(gw, 'alpha', { to: number, text: 'Offer. Reply STOP to opt out' })).body.data.messages[0]
        .status,
    ).toBe('sent');
    await reply(gw, number, 'STOP ALL', original);
    await gw.gateway.optOuts.acknowledger.idle();
    const acks = providerSendsTo(gw, number).filter((m) => /unsubscribed|Welcome back/.test(m.body));
    expect(acks.map((m) => m.body)).toEqual(['You are unsubscribed. Reply START to rejoin']);
    // A text that merely contains the word is not a keyword.
    await reply(
      gw,
      '+61412600003',
      'please stop calling me at work',
      await sentTo(gw, 'alpha', '+61412600003'),
    );
    expect(
      (await send(gw, 'alpha', { to: '+61412600003', text: 'Hi. Reply STOP to opt out' })).body.data
        .messages[0].status,
    ).toBe('sent');
  });

  it("a tenant's own keywords (beta: ARRET) apply to replies to its messages", async () => {
    const number = '+61412600004';
    await reply(
      gw,
      number,
      'arrêt'.normalize('NFD').replace(/\p{M}/gu, ''),
      await sentTo(gw, 'beta', number),
    );
    expect(
      (await send(gw, 'beta', { to: number, text: 'News. Reply STOP to opt out' })).body.data.messages[0]
        .status,
    ).toBe('suppressed');
  });

  it('marketing texts without an opt-out instruction: alpha appends its footer (counted in segments), beta refuses them', async () => {
    const text = 'x'.repeat(150);
    const appended = await send(gw, 'alpha', { to: '+61412600005', text });
    expect(appended.status).toBe(201);
    expect(appended.body.data.segments).toBe(2);
    expect([...gw.sandbox!.sent.values()].some((m) => m.body === `${text}\r\nReply STOP to opt out`)).toBe(
      true,
    );
    const plain = await send(gw, 'alpha', { to: '+61412600005', text, purpose: 'transactional' });
    expect(plain.body.data.segments).toBe(1);

    const refused = await send(gw, 'beta', { to: '+61412600005', text: 'Half price today' });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: 'FIELD_INVALID' });
    expect(refused.body.error.description).toMatch(
      /^text: a marketing text must carry an opt-out instruction/,
    );
    expect(
      (await send(gw, 'beta', { to: '+61412600005', text: 'Half price today', purpose: 'transactional' }))
        .status,
    ).toBe(201);
  });

  it('async marketing sends (Prefer: respond-async) record suppressed numbers at once and send the rest', async () => {
    const number = '+61412600006';
    await reply(gw, number, 'STOP', await sentTo(gw, 'alpha', number));
    await gw.gateway.optOuts.acknowledger.idle();
    const before = providerSendsTo(gw, number).length;
    const queued = await send(
      gw,
      'alpha',
      { to: [number, '+61412600007'], text: 'Async offer. Reply STOP to opt out' },
      { Prefer: 'respond-async' },
    );
    expect(queued.status).toBe(202);
    const statuses = Object.fromEntries(
      queued.body.data.messages.map((m: { to: string; status: string }) => [m.to, m.status]),
    );
    expect(statuses).toEqual({ [number]: 'suppressed', '+61412600007': 'queued' });
    await gw.gateway.sends.runOnce();
    await waitFor(() => providerSendsTo(gw, '+61412600007').length === 1, 10_000, 'the async send');
    expect(providerSendsTo(gw, number).length).toBe(before);
  });

  it('admins list, add, remove and export suppressions', async () => {
    const number = '+61412600008';
    const add = (body: object) => request(gw.url).post('/v1/admin/suppressions').set(admin()).send(body);
    expect((await add({ number: '0412600008', tenant: 'beta', reason: 'asked by phone' })).status).toBe(201);
    const again = await add({ number, tenant: 'beta' });
    expect(again.status).toBe(200);
    expect(again.body.data).toMatchObject({
      number,
      tenant: 'beta',
      source: 'admin',
      reason: 'asked by phone',
    });
    expect((await add({ number, tenant: 'nobody' })).body.error.description).toBe(
      "tenant: 'nobody' is not a configured tenant",
    );
    expect((await add({ number: '12', tenant: 'beta' })).body.error.code).toBe('FIELD_INVALID');
    expect(
      (await send(gw, 'beta', { to: number, text: 'Deal. Reply STOP to opt out' })).body.data.messages[0]
        .status,
    ).toBe('suppressed');

    const list = await request(gw.url).get('/v1/admin/suppressions?tenant=beta').set(admin());
    expect(list.status).toBe(200);
    expect(list.body.page).toEqual({ count: 1, number: 1 });
    expect(list.body.data.map((s: { number: string }) => s.number)).toContain(number);
    expect(
      (
        await request(gw.url)
          .get('/v1/admin/suppressions')
          .set(bearer(tokenFor('alpha')))
      ).status,
    ).toBe(403);

    const csv = await request(gw.url).get('/v1/admin/suppressions/export?tenant=beta').set(admin());
    expect(csv.status).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    const lines = csv.text.trim().split('\r\n');
    expect(lines[0]).toBe('number,tenant,source,reason,createdAt');
    expect(lines.some((l) => l.startsWith(`${number},beta,admin,asked by phone,`))).toBe(true);

    const remove = () =>
      request(gw.url)
        .delete(`/v1/admin/suppressions/${encodeURIComponent(number)}?tenant=beta`)
        .set(admin());
    expect((await remove()).status).toBe(200);
    expect((await remove()).status).toBe(404);
    expect(
      (await send(gw, 'beta', { to: number, text: 'Deal. Reply STOP to opt out' })).body.data.messages[0]
        .status,
    ).toBe('sent');
  });
});

describe('opt-outs account-wide (optOuts.scope: account)', () => {
  let gw: RunningServer;
  beforeAll(async () => {
    gw = await startTestGateway({ inbound: { pollIntervalMs: 0 }, optOuts: { scope: 'account' } });
  });
  afterAll(() => gw.stop());

  it("a STOP to alpha's message suppresses beta's marketing too, and both tenants hear of it", async () => {
    const number = '+61412600101';
    await reply(gw, number, 'unsubscribe', await sentTo(gw, 'alpha', number));
    expect(
      (await send(gw, 'beta', { to: number, text: 'Beta deal. Reply STOP to opt out' })).body.data.messages[0]
        .status,
    ).toBe('suppressed');
    const events = await gw.db
      .selectFrom('events')
      .select(['tenant_id', 'payload'])
      .where('type', '=', 'contact.opted_out')
      .execute();
    // Every tenant (the sandbox's demo tenant too), once each.
    expect(events.map((e) => e.tenant_id).sort()).toEqual(['alpha', 'beta', 'demo', 'ops']);
    expect(JSON.parse(events[0]!.payload).data).toMatchObject({ number, scope: 'account', source: 'reply' });
  });
});
