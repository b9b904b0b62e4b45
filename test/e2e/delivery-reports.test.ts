import request from 'supertest';
import type { RunningServer } from '../../src/server';
import { TEST_CALLBACK_TOKEN } from '../support/constants';
import { bearer, startTestGateway, tokenFor } from '../support/gateway';
import { captured } from '../support/leak-guard';
import { waitFor as waitUntil } from '../support/wait';

const dlrPath = `/v1/callbacks/cellcast/${TEST_CALLBACK_TOKEN}/dlr`;

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('delivery reports from the provider', () => {
  let gw: RunningServer;
  beforeAll(async () => {
    gw = await startTestGateway({ sandbox: { dlrDelayMs: 50 } });
  });
  afterAll(() => gw.stop());

  const send = async (tenant = 'alpha') => {
    const res = await request(gw.url)
      .post('/v1/messages')
      .set(bearer(tokenFor(tenant)))
      .send({ to: '0412345678', text: 'hello' });
    expect(res.status).toBe(201);
    return res.body.data.messages[0].id as string;
  };
  const message = async (id: string, tenant = 'alpha') =>
    (
      await request(gw.url)
        .get(`/v1/messages/${id}`)
        .set(bearer(tokenFor(tenant)))
    ).body.data;
  const providerIdOf = async (id: string) => (await message(id)).providerMessageId as string;
  const post = (body: unknown, path = dlrPath) =>
    request(gw.url)
      .post(path)
      .send(body as object);
  const reportsStored = async () =>
    Number(
      (
        await gw.db
          .selectFrom('delivery_reports')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );

  it("the sandbox's delivery report reaches the gateway and moves the message to delivered, with its history", async () => {
    const id = await send();
    const delivered = await waitFor(async () => {
      const data = await message(id);
      return data.status === 'delivered' ? data : undefined;
    });
    expect(delivered.history.map((h: { status: string }) => h.status)).toEqual([
      'queued',
      'sent',
      'delivered',
    ]);
    expect(delivered.history[2].detail).toBe('provider: Delivered');
    // Another tenant still cannot see it.
    expect(
      (
        await request(gw.url)
          .get(`/v1/messages/${id}`)
          .set(bearer(tokenFor('beta')))
      ).status,
    ).toBe(404);
  });

  it('refuses a wrong token with the plain 404 of an unknown route, storing nothing', async () => {
    const before = await reportsStored();
    const res = await post(
      [{ message_id: 'X', status: 'Delivered' }],
      '/v1/callbacks/cellcast/not-the-token/dlr',
    );
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
    expect(await reportsStored()).toBe(before);
  });

  it('stores the good items of a batch with a malformed one, and records the malformed one as rejected', async () => {
    gw.sandbox!.configureCallbacks({ dlr: 'http://127.0.0.1:9/' }); // keep the sandbox's own reports out of this test
    const id = await send();
    const providerId = await providerIdOf(id);
    const res = await post([
      { message_id: providerId, status: 'Delivered', recipient: '61412345678' },
      { status: 'Delivered' },
      'garbage',
    ]);
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ applied: 1, duplicates: 0, ignored: 0, rejected: 2 });
    expect((await message(id)).status).toBe('delivered');
    const rejected = await gw.db
      .selectFrom('rejected_callbacks')
      .select(['reason'])
      .orderBy('id', 'desc')
      .limit(2)
      .execute();
    expect(rejected.map((r) => r.reason).sort()).toEqual([
      expect.stringMatching(/^\[1\]\.message_id/),
      expect.stringMatching(/^\[2\]\./),
    ]);
  });

  it('rejects an item nested 10,000 levels deep on its own and stores the rest of the batch', async () => {
    gw.sandbox!.configureCallbacks({ dlr: 'http://127.0.0.1:9/' }); // keep the sandbox's own reports out of this test
    const [first, second] = [await send(), await send()];
    const good = async (id: string) =>
      JSON.stringify({ message_id: await providerIdOf(id), status: 'Delivered', recipient: '61412345678' });
    const depth = 10_000;
    const deep = `${'{"a":'.repeat(depth)}"x"${'}'.repeat(depth)}`;
    const before = await reportsStored();
    const res = await request(gw.url)
      .post(dlrPath)
      .type('json')
      .send(`[${await good(first)},${deep},${await good(second)}]`);
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ applied: 2, duplicates: 0, ignored: 0, rejected: 1 });
    expect(await reportsStored()).toBe(before + 2);
    expect([(await message(first)).status, (await message(second)).status]).toEqual([
      'delivered',
      'delivered',
    ]);
    const [rejected] = await gw.db
      .selectFrom('rejected_callbacks')
      .select(['reason', 'payload'])
      .orderBy('id', 'desc')
      .limit(1)
      .execute();
    expect(rejected!.reason).toBe('[1]: nested deeper than 32 levels');
    expect(rejected!.payload).toMatch(/^\{"a":\{"a":/);
    expect(rejected!.payload.length).toBeLessThanOrEqual(2000);
  });

  it('treats the same report posted 5 times as one, and never lets a late Queued undo Delivered', async () => {
    const id = await send();
    const providerId = await providerIdOf(id);
    const report = { message_id: providerId, status: 'Delivered', recipient: '61412345678' };
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push((await post([report])).body.data);
    expect(answers.map((a) => [a.applied, a.duplicates])).toEqual([
      [1, 0],
      [0, 1],
      [0, 1],
      [0, 1],
      [0, 1],
    ]);
    expect((await post({ message_id: providerId, status: 'Queued' })).body.data).toMatchObject({
      applied: 0,
      ignored: 1,
    });
    const data = await message(id);
    expect(data.status).toBe('delivered');
    expect(data.history.map((h: { status: string }) => h.status)).toEqual(['queued', 'sent', 'delivered']);
    // One event for the tenant: the duplicates and the stale Queued created none.
    const events = await gw.db
      .selectFrom('events')
      .select('payload')
      .where('tenant_id', '=', 'alpha')
      .execute();
    expect(events.filter((e) => JSON.parse(e.payload).data.messageId === id)).toHaveLength(1);
  });

  it('stores a report for a message we never sent without touching any tenant', async () => {
    const eventsBefore = (await gw.db.selectFrom('events').select('id').execute()).length;
    const res = await post({ message_id: 'AAAAAAAA-0000-0000-0000-000000000000', status: 'Failed' });
    expect((await gw.db.selectFrom('events').select('id').execute()).length).toBe(eventsBefore);
    expect(res.body.data).toEqual({ applied: 0, duplicates: 0, ignored: 1, rejected: 0 });
    const row = await gw.db
      .selectFrom('delivery_reports')
      .selectAll()
      .where('provider_message_id', '=', 'AAAAAAAA-0000-0000-0000-000000000000')
      .executeTakeFirstOrThrow();
    expect(row.tenant_id).toBeNull();
  });

  it("finds the message by our batch reference when the provider's id never reached us", async () => {
    const id = await send();
    const batch = await gw.db
      .selectFrom('messages')
      .select(['batch_id'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    await gw.db
      .updateTable('messages')
      .set({ provider_message_id: null, status: 'unknown' })
      .where('id', '=', id)
      .execute();
    const res = await post([
      {
        message_id: 'BBBBBBBB-1111-1111-1111-111111111111',
        status: 'Delivered',
        recipient: '61412345678',
        custom_string: batch.batch_id,
      },
    ]);
    expect(res.body.data.applied).toBe(1);
    expect(await message(id)).toMatchObject({
      status: 'delivered',
      providerMessageId: 'BBBBBBBB-1111-1111-1111-111111111111',
    });
  });

  it('keeps the callback token out of the access log', () => {
    const callbackLines = captured.logLines.filter((line) => line.includes('/v1/callbacks/cellcast/'));
    expect(callbackLines.length).toBeGreaterThan(0);
    expect(callbackLines.every((line) => line.includes('/v1/callbacks/cellcast/[REDACTED]/dlr'))).toBe(true);
  });
});

describe('optional callback locks: source addresses and Basic credentials', () => {
  const report = [{ message_id: 'CCCCCCCC-0000-0000-0000-000000000000', status: 'Delivered' }];
  const basicAuth = { username: 'cellcast', password: 'callback-basic-password-0123' };
  const stored = async (gw: RunningServer) =>
    (await gw.db.selectFrom('delivery_reports').select('id').execute()).length;

  it('a caller outside callbacks.allowedIps gets the 404 of a wrong token, and nothing is stored', async () => {
    const gw = await startTestGateway({ callbacks: { allowedIps: ['10.0.0.0/8'] } });
    try {
      const res = await request(gw.url).post(dlrPath).send(report);
      expect(res.status).toBe(404);
      expect(await stored(gw)).toBe(0);
    } finally {
      await gw.stop();
    }
  });

  it('with callbacks.basicAuth, missing or wrong credentials → 401 and nothing stored; right ones → stored', async () => {
    const gw = await startTestGateway({ callbacks: { allowedIps: ['127.0.0.1', '::1'], basicAuth } });
    try {
      const none = await request(gw.url).post(dlrPath).send(report);
      expect(none.status).toBe(401);
      expect(none.headers['www-authenticate']).toBe('Basic realm="smsgate-callbacks"');
      const wrong = await request(gw.url)
        .post(dlrPath)
        .auth('cellcast', 'not-the-password-at-all')
        .send(report);
      expect(wrong.status).toBe(401);
      expect(await stored(gw)).toBe(0);
      const right = await request(gw.url)
        .post(dlrPath)
        .auth(basicAuth.username, basicAuth.password)
        .send(report);
      expect(right.status).toBe(200);
      expect(await stored(gw)).toBe(1);
      expect(captured.logLines.some((line) => line.includes(basicAuth.password))).toBe(false);
    } finally {
      await gw.stop();
    }
  });
});

describe("a delivery report that reaches us before the send's own answer", () => {
  let gw: RunningServer;
  beforeAll(async () => {
    // The sandbox reports at once; the gateway gives the provider 1 s to answer.
    gw = await startTestGateway({ sandbox: { dlrDelayMs: 0 }, upstream: { timeoutMs: 1000 } });
  });
  afterAll(() => gw.stop());

  const message = async (id: string) =>
    (
      await request(gw.url)
        .get(`/v1/messages/${id}`)
        .set(bearer(tokenFor('alpha')))
    ).body.data;

  it('the send answers 504, and the message stays delivered with its provider id: the timeout does not undo the report', async () => {
    // The provider accepts the send and reports it delivered, but answers the send itself too late.
    gw.sandbox!.setFaults({ answerDelayMs: 3000 });
    const res = await request(gw.url)
      .post('/v1/messages')
      .set(bearer(tokenFor('alpha')))
      .send({ to: '0412345678', text: 'the answer comes late' });
    gw.sandbox!.setFaults({ answerDelayMs: 0 });
    expect(res.status).toBe(504);
    expect(res.body.error.code).toBe('UPSTREAM_TIMEOUT');
    const accepted = [...gw.sandbox!.sent.values()].find((m) => m.body === 'the answer comes late');
    expect(accepted).toBeDefined();
    const { id } = await gw.db
      .selectFrom('messages')
      .select('id')
      .where('text', '=', 'the answer comes late')
      .executeTakeFirstOrThrow();
    const data = await waitUntil(
      async () => {
        const current = await message(id);
        return current.status === 'delivered' ? current : undefined;
      },
      5000,
      'the message delivered',
    );
    expect(data.providerMessageId).toBe(accepted!.messageId);
    // Whichever came first, nothing follows `delivered` (normally: queued → delivered).
    const statuses = (data.history as { status: string }[]).map((h) => h.status);
    expect(statuses.slice(statuses.indexOf('delivered'))).toEqual(['delivered']);
  });

  it('a send whose outcome was unknown is settled by the later report, matched by our batch id and the number', async () => {
    // The provider takes longer than the timeout before it even handles the send.
    gw.sandbox!.setFaults({ latencyMs: 1500 });
    const res = await request(gw.url)
      .post('/v1/messages')
      .set(bearer(tokenFor('alpha')))
      .send({ to: '0412345678', text: 'handled after our timeout' });
    expect(res.status).toBe(504);
    const { id } = await gw.db
      .selectFrom('messages')
      .select('id')
      .where('text', '=', 'handled after our timeout')
      .executeTakeFirstOrThrow();
    const settled = await waitUntil(
      async () => {
        const current = await message(id);
        return current.status === 'delivered' ? current : undefined;
      },
      10_000,
      'the unknown message settled',
    );
    gw.sandbox!.setFaults({ latencyMs: 0 });
    const accepted = [...gw.sandbox!.sent.values()].find((m) => m.body === 'handled after our timeout');
    expect(settled.providerMessageId).toBe(accepted!.messageId);
    expect(settled.error).toBeNull();
    expect(settled.history[1].detail).toMatch(/did not answer/);
    expect(settled.history.map((h: { status: string }) => h.status)).toEqual([
      'queued',
      'unknown',
      'delivered',
    ]);
  });

  it('operators list the messages still unknown (GET /v1/admin/messages?status=unknown), across tenants, 25 a page', async () => {
    // Never answered nor handled: nothing will ever settle these.
    gw.sandbox!.setFaults({ hang: true });
    const ids: string[] = [];
    for (const tenant of ['alpha', 'beta']) {
      const res = await request(gw.url)
        .post('/v1/messages')
        .set(bearer(tokenFor(tenant)))
        .send({ to: '0412345678', text: `lost in the provider (${tenant})` });
      expect(res.status).toBe(504);
    }
    gw.sandbox!.setFaults({ hang: false });
    for (const row of await gw.db
      .selectFrom('messages')
      .select('id')
      .where('text', 'like', 'lost in the provider%')
      .orderBy('id', 'desc')
      .execute())
      ids.push(row.id);

    const admin = bearer(tokenFor('ops', { scope: 'admin' }));
    const unknown = await request(gw.url).get('/v1/admin/messages?status=unknown').set(admin);
    expect(unknown.status).toBe(200);
    expect(unknown.body.page).toEqual({ count: 1, number: 1 });
    expect(unknown.body.data.map((m: { id: string }) => m.id)).toEqual(ids);
    expect(unknown.body.data[0]).toMatchObject({
      id: ids[0],
      tenantId: 'beta',
      status: 'unknown',
      providerMessageId: null,
      error: expect.stringMatching(/did not answer/),
    });
    const beta = await request(gw.url).get('/v1/admin/messages?status=unknown&tenant=beta').set(admin);
    expect(beta.body.data.map((m: { id: string }) => m.id)).toEqual([ids[0]]);
    const delivered = await request(gw.url).get('/v1/admin/messages?status=delivered').set(admin);
    expect(delivered.body.data.length).toBeGreaterThanOrEqual(2);
    expect(delivered.body.data.every((m: { status: string }) => m.status === 'delivered')).toBe(true);
    expect(
      (await request(gw.url).get('/v1/admin/messages?status=unknown&page=2').set(admin)).body,
    ).toMatchObject({
      data: [],
      page: { count: 1, number: 2 },
    });

    const bad = await request(gw.url).get('/v1/admin/messages?status=lost').set(admin);
    expect(bad.status).toBe(400);
    expect(bad.body.error.description).toMatch(/^status: /);
    expect(
      (
        await request(gw.url)
          .get('/v1/admin/messages?status=unknown')
          .set(bearer(tokenFor('alpha')))
      ).status,
    ).toBe(403);
  });
});
