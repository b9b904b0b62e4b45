import request from 'supertest';
import type { RunningServer } from '../../src/server';
import { TEST_CALLBACK_TOKEN, TEST_WEBHOOK_SECRETS } from '../support/constants';
import { bearer, startTestGateway, tokenFor } from '../support/gateway';
import { waitFor } from '../support/wait';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';

const inboundPath = `/v1/callbacks/cellcast/${TEST_CALLBACK_TOKEN}/inbound`;

describe('inbound replies', () => {
  let gw: RunningServer;
  beforeAll(async () => {
    gw = await startTestGateway({
      inbound: { defaultTenant: 'ops', rules: [{ keyword: 'JOIN', tenant: 'beta' }] },
    });
  });
  afterAll(() => gw.stop());

  const inboxOf = async (tenant: string) =>
    (
      await request(gw.url)
        .get('/v1/inbound')
        .set(bearer(tokenFor(tenant)))
    ).body;
  const textsOf = async (tenant: string) =>
    (await inboxOf(tenant)).data.map((m: { text: string }) => m.text) as string[];
  async function waitForText(tenant: string, text: string): Promise<void> {
    const until = Date.now() + 5000;
    while (!(await textsOf(tenant)).includes(text)) {
      if (Date.now() > until) throw new Error(`${text} never reached ${tenant}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  it("routes a reply to tenant A's message to A only (as the sandbox posts it: an array)", async () => {
    const sent = await request(gw.url)
      .post('/v1/messages')
      .set(bearer(tokenFor('alpha')))
      .send({ to: '0412345678', text: 'Your table is ready' });
    const ourId = sent.body.data.messages[0].id;
    const providerId = (
      await request(gw.url)
        .get(`/v1/messages/${ourId}`)
        .set(bearer(tokenFor('alpha')))
    ).body.data.providerMessageId;
    gw.sandbox!.injectInbound({
      from: '+61412345678',
      body: 'Thanks, on my way',
      originalMessageId: providerId,
    });
    await waitForText('alpha', 'Thanks, on my way');
    const alpha = await inboxOf('alpha');
    expect(alpha.page).toEqual({ count: 1, number: 1 });
    expect(alpha.data[0]).toMatchObject({ from: '+61412345678', text: 'Thanks, on my way', replyTo: ourId });
    expect(await textsOf('beta')).not.toContain('Thanks, on my way');
    expect(await textsOf('ops')).not.toContain('Thanks, on my way');
  });

  it('routes other inbound SMS by first-word keyword, then to the default tenant', async () => {
    gw.sandbox!.injectInbound({ from: '0412000001', body: 'join the list please' });
    gw.sandbox!.injectInbound({ from: '0412000002', body: 'who is this?' });
    await waitForText('beta', 'join the list please');
    await waitForText('ops', 'who is this?');
    expect(await textsOf('alpha')).not.toContain('who is this?');
  });

  it('stores a repeated inbound message once, keeps the good items of a bad batch, and refuses a wrong token', async () => {
    const item = {
      from: '61412999999',
      body: 'once only',
      received_at: '2026-11-25 10:00:00',
      message_id: '6952176713',
      type: 'SMS',
    };
    expect((await request(gw.url).post(inboundPath).send([item])).body.data).toEqual({
      stored: 1,
      duplicates: 0,
      rejected: 0,
    });
    expect((await request(gw.url).post(inboundPath).send(item)).body.data).toEqual({
      stored: 0,
      duplicates: 1,
      rejected: 0,
    });
    const mixed = await request(gw.url)
      .post(inboundPath)
      .send([
        { ...item, message_id: '6952176714', body: 'second' },
        { from: '', body: 'x', message_id: 1 },
      ]);
    expect(mixed.body.data).toEqual({ stored: 1, duplicates: 0, rejected: 1 });
    expect((await textsOf('ops')).filter((t) => t === 'once only')).toHaveLength(1);
    const wrong = await request(gw.url).post('/v1/callbacks/cellcast/wrong-token/inbound').send([item]);
    expect(wrong.status).toBe(404);
  });

  it('rejects an item nested 10,000 levels deep on its own and stores the rest of the batch', async () => {
    const item = (id: string, body: string) =>
      JSON.stringify({
        from: '61412999998',
        body,
        received_at: '2026-11-25 10:00:00',
        message_id: id,
        type: 'SMS',
      });
    const depth = 10_000;
    const deep = `${'['.repeat(depth)}${']'.repeat(depth)}`;
    const rejectedRows = async () =>
      Number(
        (
          await gw.db
            .selectFrom('rejected_callbacks')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const before = await rejectedRows();
    const res = await request(gw.url)
      .post(inboundPath)
      .type('json')
      .send(
        `[${item('7000000001', 'before the deep one')},${deep},${item('7000000002', 'after the deep one')}]`,
      );
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ stored: 2, duplicates: 0, rejected: 1 });
    expect(await textsOf('ops')).toEqual(
      expect.arrayContaining(['before the deep one', 'after the deep one']),
    );
    expect(await rejectedRows()).toBe(before + 1);
    const [rejected] = await gw.db
      .selectFrom('rejected_callbacks')
      .select(['reason'])
      .orderBy('id', 'desc')
      .limit(1)
      .execute();
    expect(rejected!.reason).toBe('[1]: nested deeper than 32 levels');
  });

  it('needs sms:read and pages like every list', async () => {
    expect(
      (
        await request(gw.url)
          .get('/v1/inbound')
          .set(bearer(tokenFor('alpha', { scope: 'sms:send' })))
      ).status,
    ).toBe(403);
    expect(
      (
        await request(gw.url)
          .get('/v1/inbound?page=0')
          .set(bearer(tokenFor('alpha')))
      ).status,
    ).toBe(400);
  });
});

describe('the get-responses backstop', () => {
  let gw: RunningServer;
  beforeAll(async () => {
    gw = await startTestGateway({
      inbound: { rules: [{ keyword: 'JOIN', tenant: 'beta' }], pollIntervalMs: 0 },
    });
  });
  afterAll(() => gw.stop());

  const betaInbox = async (page = 1) =>
    (
      await request(gw.url)
        .get(`/v1/inbound?page=${page}`)
        .set(bearer(tokenFor('beta')))
    ).body;
  const storedCount = async () =>
    Number(
      (
        await gw.db
          .selectFrom('inbound_messages')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );

  it('picks up replies whose callback never came, through the budget, stores them once, then marks them read', async () => {
    const sandbox = gw.sandbox!;
    // One reply arrives by callback as usual; then the callback URL breaks for the next 30.
    sandbox.injectInbound({ from: '+61412000000', body: 'JOIN by callback' });
    await waitFor(async () => (await storedCount()) === 1 || undefined, 5000, 'the callback');
    sandbox.configureCallbacks({ inbound: 'http://127.0.0.1:9/' });
    for (let i = 0; i < 30; i++)
      sandbox.injectInbound({ from: `+614120001${String(i).padStart(2, '0')}`, body: `JOIN ${i}` });
    const callsBefore = sandbox.calls.length;

    const { seen } = await gw.gateway.backstop.pollOnce();
    expect(seen).toBe(31); // the callback's one was still unread at the provider: seen again, stored once
    expect(await storedCount()).toBe(31);
    const first = await betaInbox();
    expect(first.page).toEqual({ count: 2, number: 1 });
    expect((await betaInbox(2)).data).toHaveLength(6);
    expect(sandbox.inbox.every((m) => m.read)).toBe(true);
    const endpoints = sandbox.calls.slice(callsBefore).map((c) => c.endpoint);
    expect(endpoints).toEqual([
      'get-responses',
      'inbound-read-bulk',
      'get-responses',
      'inbound-read-bulk',
      'get-responses',
    ]);

    expect(await gw.gateway.backstop.pollOnce()).toEqual({ seen: 0 });
    expect(await storedCount()).toBe(31);
  });
});

describe('replies whose original message is not in the ledger', () => {
  let gw: RunningServer;
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    gw = await startTestGateway({
      upstream: { timeoutMs: 1000 },
      inbound: { defaultTenant: 'ops', rules: [{ keyword: 'JOIN', tenant: 'beta' }], pollIntervalMs: 0 },
      tenants: { alpha: { webhook: { url: receiver.url, secret: TEST_WEBHOOK_SECRETS.alpha } } },
      webhooks: { allowPrivateTargets: [`127.0.0.1:${receiver.port}`] },
    });
  });
  afterAll(async () => {
    await gw.stop();
    await receiver.close();
  });

  const admin = bearer(tokenFor('ops', { scope: 'admin' }));
  const inbox = async (tenant: string) =>
    (
      await request(gw.url)
        .get('/v1/inbound')
        .set(bearer(tokenFor(tenant)))
    ).body.data as { id: string; text: string; replyTo: string | null }[];
  const texts = async (tenant: string) => (await inbox(tenant)).map((m) => m.text);

  it("a reply to A's timed-out send goes to A (our batch id and the number), not to B's keyword", async () => {
    // The provider handles the send only after our timeout: no provider id in the ledger.
    gw.sandbox!.setFaults({ latencyMs: 1500 });
    const sent = await request(gw.url)
      .post('/v1/messages')
      .set(bearer(tokenFor('alpha')))
      .send({ to: '0412345678', text: 'Reply JOIN to confirm' });
    expect(sent.status).toBe(504);
    const accepted = await waitFor(
      () => [...gw.sandbox!.sent.values()].find((m) => m.body === 'Reply JOIN to confirm'),
      10_000,
      'the provider handling the send',
    );
    gw.sandbox!.setFaults({ latencyMs: 0 });
    const { id } = await gw.db
      .selectFrom('messages')
      .select(['id', 'status'])
      .where('text', '=', 'Reply JOIN to confirm')
      .executeTakeFirstOrThrow();

    // The provider names its own id (unknown to us) and echoes our batch id as custom_string.
    gw.sandbox!.injectInbound({
      from: '+61412345678',
      body: 'JOIN yes please',
      originalMessageId: accepted.messageId,
    });
    await waitFor(async () => (await texts('alpha')).includes('JOIN yes please'), 5000, 'the reply at alpha');
    expect((await inbox('alpha')).find((m) => m.text === 'JOIN yes please')).toMatchObject({ replyTo: id });
    expect(await texts('beta')).not.toContain('JOIN yes please');
    expect(await texts('ops')).not.toContain('JOIN yes please');
  });

  it('a reply naming a message we cannot place is held for an operator, who assigns it to a tenant', async () => {
    const stored = await request(gw.url)
      .post(`/v1/callbacks/cellcast/${TEST_CALLBACK_TOKEN}/inbound`)
      .send([
        {
          from: '61412000555',
          body: 'JOIN me too',
          received_at: '2026-11-25 10:00:00',
          message_id: '7000000001',
          custom_string: 'b-NOT-ONE-OF-OURS',
          original_message_id: 'EEEEEEEE-0000-0000-0000-000000000001',
          type: 'SMS',
        },
      ]);
    expect(stored.body.data).toEqual({ stored: 1, duplicates: 0, rejected: 0 });
    // Neither the keyword's tenant nor the default one, nor anyone else, gets it.
    for (const tenant of ['alpha', 'beta', 'ops']) expect(await texts(tenant)).not.toContain('JOIN me too');

    const forbidden = await request(gw.url)
      .get('/v1/admin/inbound/unrouted')
      .set(bearer(tokenFor('alpha')));
    expect(forbidden.status).toBe(403);
    const held = await request(gw.url).get('/v1/admin/inbound/unrouted').set(admin);
    expect(held.status).toBe(200);
    expect(held.body.page).toEqual({ count: 1, number: 1 });
    const item = held.body.data.find((m: { text: string }) => m.text === 'JOIN me too');
    expect(item).toMatchObject({
      from: '+61412000555',
      routedBy: 'held',
      originalMessageId: 'EEEEEEEE-0000-0000-0000-000000000001',
      customString: 'b-NOT-ONE-OF-OURS',
    });

    const assign = (id: string, body: object, auth = admin) =>
      request(gw.url).post(`/v1/admin/inbound/${id}/assign`).set(auth).send(body);
    expect((await assign(item.id, { tenant: 'alpha' }, bearer(tokenFor('alpha')))).status).toBe(403);
    const wrongTenant = await assign(item.id, { tenant: 'nobody' });
    expect(wrongTenant.status).toBe(400);
    expect(wrongTenant.body.error.description).toMatch(/^tenant: /);
    const assigned = await assign(item.id, { tenant: 'alpha' });
    expect(assigned.status).toBe(200);
    expect(assigned.body.data).toMatchObject({ id: item.id, tenantId: 'alpha', routedBy: 'operator' });
    expect(await texts('alpha')).toContain('JOIN me too');
    expect(await texts('beta')).not.toContain('JOIN me too');
    const hook = await waitFor(
      () =>
        receiver.received
          .map((r) => JSON.parse(r.body) as { type: string; data: { id: string; routedBy: string } })
          .find((event) => event.type === 'message.inbound' && event.data.id === item.id),
      5000,
      "alpha's webhook",
    );
    expect(hook.data.routedBy).toBe('operator');
    expect((await assign(item.id, { tenant: 'beta' })).status).toBe(409);
    expect((await assign('in_NOPE', { tenant: 'beta' })).status).toBe(404);
    const after = await request(gw.url).get('/v1/admin/inbound/unrouted').set(admin);
    expect(after.body.data.map((m: { id: string }) => m.id)).not.toContain(item.id);
  });
});
