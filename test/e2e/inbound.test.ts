import request from 'supertest';
import type { RunningServer } from '../../src/server';
import { TEST_CALLBACK_TOKEN } from '../support/constants';
import { bearer, startTestGateway, tokenFor } from '../support/gateway';
import { waitFor } from '../support/wait';

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
