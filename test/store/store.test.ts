import {
  createDeliveryReportRepository,
  createEventRepository,
  createFormReplyRepository,
  createIdempotencyRepository,
  createInboundRepository,
  createMessageRepository,
  createOutboxRepository,
  createQuotaRepository,
  migrateToLatest,
  type ClaimRoom,
  type Db,
  type InboundInput,
  type MessageRecord,
} from '../../src/store';
import { createIdempotencySweeper } from '../../src/messages';
import { createLogger } from '../../src/observability';
import { ManualClock } from '../support/manual-clock';
import { waitFor } from '../support/wait';
import { queuedMessage } from '../support/messages';
import { DIALECTS, openTestStore, type TestStore } from '../support/databases';

// The whole store, through its repositories, on both dialects: the embedded SQLite file and the
// PostgreSQL that cluster mode uses (a real server; a fresh schema per run).
const AT = '2026-11-25T01:00:00.000Z';
const unlimited: ClaimRoom = { take: () => true, giveBack: () => undefined };

function message(id: string, overrides: Partial<MessageRecord> = {}): MessageRecord {
  return queuedMessage({
    id,
    tenantId: 'alpha',
    batchId: 'bat_1',
    recipient: '+61412345678',
    createdAt: AT,
    updatedAt: AT,
    ...overrides,
  });
}

describe.each(DIALECTS)('the store on %s', (dialect) => {
  let store: TestStore;
  let db: Db;
  beforeAll(async () => {
    store = await openTestStore(dialect);
    db = store.db;
  });
  afterAll(() => store.drop());

  it('migrates once: running the migrations again changes nothing', async () => {
    await migrateToLatest(db);
    const tables = [
      'messages',
      'message_events',
      'quota_usage',
      'delivery_reports',
      'inbound_messages',
      'events',
      'webhook_deliveries',
      'event_tickets',
      'form_replies',
    ] as const;
    for (const table of tables) await expect(db.selectFrom(table).selectAll().execute()).resolves.toEqual([]);
  });

  it('keeps the ledger per tenant, newest first, with status history', async () => {
    const messages = createMessageRepository(db);
    await messages.insertBatch([message('msg_1'), message('msg_2'), message('msg_3', { tenantId: 'beta' })]);
    await messages.recordOutcomes([{ id: 'msg_1', status: 'sent', providerMessageId: 'P-1' }], AT);
    const found = await messages.findForTenant('alpha', 'msg_1');
    expect(found).toMatchObject({ status: 'sent', providerMessageId: 'P-1' });
    expect(found!.history.map((h) => h.status)).toEqual(['queued', 'sent']);
    expect(await messages.findForTenant('beta', 'msg_1')).toBeUndefined();
    const page = await messages.listForTenant('alpha', { offset: 0, size: 25 });
    expect(page.total).toBe(2);
    expect(page.items.map((m) => m.id)).toEqual(['msg_2', 'msg_1']);
  });

  it('never lets concurrent quota reservations go over the limit', async () => {
    const quotas = createQuotaRepository(db);
    const demands = [{ period: 'day:2026-11-25', limit: 10 }];
    const results = await Promise.all(Array.from({ length: 25 }, () => quotas.reserve('alpha', demands, 1)));
    expect(results.filter((r) => r.exceeded === undefined)).toHaveLength(10);
    expect((await quotas.usage('alpha', ['day:2026-11-25'])).get('day:2026-11-25')).toBe(10);
    await quotas.release('alpha', ['day:2026-11-25'], 4);
    expect((await quotas.usage('alpha', ['day:2026-11-25'])).get('day:2026-11-25')).toBe(6);
  });

  it('stores a delivery report with its event and outbox row, once, and never backwards', async () => {
    const reports = createDeliveryReportRepository(db, (tenant) => tenant === 'alpha');
    const report = {
      providerMessageId: 'P-1',
      providerStatus: 'Delivered',
      status: 'delivered',
      recipient: '+61412345678',
      customString: null,
    };
    const first = await reports.store([report], [], AT);
    expect(first.counts).toEqual({ applied: 1, duplicates: 0, ignored: 0, rejected: 0 });
    expect(first.events).toHaveLength(1);
    expect(JSON.parse(first.events[0]!.payload)).toMatchObject({
      id: first.events[0]!.eventId,
      type: 'message.status',
      data: { messageId: 'msg_1', status: 'delivered' },
    });
    const again = await reports.store([report], [{ reason: 'bad', payload: '{}' }], AT);
    expect(again.counts).toEqual({ applied: 0, duplicates: 1, ignored: 0, rejected: 1 });
    const late = await reports.store([{ ...report, providerStatus: 'Queued', status: 'sent' }], [], AT);
    expect(late.counts.ignored).toBe(1);
    const outbox = await db.selectFrom('webhook_deliveries').selectAll().execute();
    expect(outbox.map((row) => row.event_id)).toEqual([first.events[0]!.eventId]);
  });

  it('routes and stores inbound messages once, with events only for routed ones', async () => {
    const inbound = createInboundRepository(db, () => false);
    const item = (id: string, tenant: string | null): InboundInput => ({
      id: `in_${id}`,
      providerMessageId: id,
      sender: '+61412000000',
      text: 'hi',
      receivedAt: '2026-11-25 12:00:00',
      originalProviderMessageId: id === 'R1' ? 'P-1' : null,
      customString: null,
      fallback: { tenantId: tenant, routedBy: tenant ? 'keyword' : 'none' },
      createdAt: AT,
    });
    const result = await inbound.store([item('R1', 'beta'), item('R2', 'beta'), item('R3', null)], [], AT);
    expect(result.counts).toEqual({ stored: 3, duplicates: 0, rejected: 0 });
    // R1 replies to alpha's P-1: alpha's, whatever the keyword said.
    expect(result.events.map((e) => e.tenantId)).toEqual(['alpha', 'beta']);
    expect((await inbound.store([item('R2', 'beta')], [], AT)).counts.duplicates).toBe(1);
    expect((await inbound.listForTenant('beta', { offset: 0, size: 25 })).total).toBe(1);
  });

  it('lists events in order for replay and redeems a ticket exactly once under a race', async () => {
    const events = createEventRepository(db);
    const all = await events.listSince('alpha', 0, 100);
    expect(all.length).toBeGreaterThanOrEqual(2);
    expect(all.map((e) => e.id)).toEqual([...all.map((e) => e.id)].sort((a, b) => a - b));
    expect(await events.listSince('alpha', all[0]!.id, 100)).toHaveLength(all.length - 1);

    await events.createTicket('hash-1', 'alpha', '2026-11-25T01:01:00.000Z', AT);
    const redeemed = await Promise.all(Array.from({ length: 10 }, () => events.redeemTicket('hash-1', AT)));
    expect(redeemed.filter((owner) => owner?.tenantId === 'alpha')).toHaveLength(1);
    expect(redeemed.find((owner) => owner !== null)).toEqual({
      tenantId: 'alpha',
      subject: null,
      readAll: true,
    });
    await events.createTicket('hash-3', 'alpha', '2026-11-25T01:01:00.000Z', AT, {
      subject: 'user-1',
      readAll: false,
    });
    expect(await events.redeemTicket('hash-3', AT)).toEqual({
      tenantId: 'alpha',
      subject: 'user-1',
      readAll: false,
    });
    await events.createTicket('hash-2', 'alpha', '2026-11-25T01:01:00.000Z', AT);
    expect(await events.redeemTicket('hash-2', '2026-11-25T01:02:00.000Z')).toBeNull(); // expired
  });

  it('hands each due outbox row to one worker only, takes it back after a lease expires, and replays dead letters', async () => {
    const a = createOutboxRepository(db);
    const b = createOutboxRepository(db);
    const reports = createDeliveryReportRepository(db, () => true);
    await createMessageRepository(db).insertBatch(
      Array.from({ length: 20 }, (_, i) => message(`msg_o${i}`, { providerMessageId: `PO-${i}` })),
    );
    await reports.store(
      Array.from({ length: 20 }, (_, i) => ({
        providerMessageId: `PO-${i}`,
        providerStatus: 'Delivered',
        status: 'delivered',
        recipient: null,
        customString: null,
      })),
      [],
      AT,
    );
    const lease = '2026-11-25T01:00:45.000Z';
    const [first, second] = await Promise.all([
      a.claimDue(AT, lease, 50, unlimited),
      b.claimDue(AT, lease, 50, unlimited),
    ]);
    const claimed = [...first, ...second].map((d) => d.id);
    expect(new Set(claimed).size).toBe(claimed.length);
    expect(claimed.length).toBe(21); // 20 here plus the one from the delivery-report test
    expect(await a.claimDue(AT, lease, 50, unlimited)).toEqual([]);
    // A worker that died holds nothing once its lease has passed.
    const afterLease = await b.claimDue(
      '2026-11-25T01:01:00.000Z',
      '2026-11-25T01:02:00.000Z',
      50,
      unlimited,
    );
    expect(afterLease).toHaveLength(21);

    const room: string[] = [];
    const limited = await a.claimDue('2026-11-25T01:03:00.000Z', '2026-11-25T01:04:00.000Z', 5, {
      take: (tenant) => (room.push(tenant), true),
      giveBack: () => undefined,
    });
    expect(limited).toHaveLength(5);
    expect(room).toHaveLength(5);

    const dead = limited[0]!;
    await a.markDead(dead.id, { attempts: 10, status: 500, error: 'HTTP 500', at: AT });
    const letters = await a.listDeadLetters('alpha', { offset: 0, size: 25 });
    expect(letters.items.map((l) => l.eventId)).toEqual([dead.eventId]);
    expect(await a.replay(dead.id, AT)).toBe(true);
    expect(await a.replay(dead.id, AT)).toBe(false);
    await a.disableEndpoint('alpha', 'https://hooks.example.com/', '410 Gone', AT);
    expect(await a.isEndpointDisabled('alpha', 'https://hooks.example.com/')).toBe(true);
    expect(await a.enableEndpoint('alpha', 'https://hooks.example.com/')).toBe(true);
  });

  const report = (providerMessageId: string, providerStatus: string, status: string, more = {}) => ({
    providerMessageId,
    providerStatus,
    status,
    recipient: null as string | null,
    customString: null as string | null,
    ...more,
  });
  const statusesOf = async (id: string) =>
    (await createMessageRepository(db).findForTenant('alpha', id))!.history.map((h) => h.status);
  const eventStatusesOf = async (id: string) =>
    (await db.selectFrom('events').select('payload').orderBy('id').execute())
      .map((row) => JSON.parse(row.payload) as { data: { messageId?: string; status?: string } })
      .filter((event) => event.data.messageId === id)
      .map((event) => event.data.status);

  it('a send outcome recorded after a delivery report never moves the message back, keeps its provider id, and announces only what changed', async () => {
    const messages = createMessageRepository(db);
    const reports = createDeliveryReportRepository(db, () => true);
    const batch = [
      message('msg_r1', { batchId: 'bat_r' }),
      message('msg_r2', { batchId: 'bat_r', recipient: '+61412000002' }),
    ];
    await messages.insertBatch(batch);
    // The provider reports r1 delivered (matched by our batch id and the number) before it answers the send.
    const dlr = report('PR-1', 'Delivered', 'delivered', {
      recipient: '+61412345678',
      customString: 'bat_r',
    });
    expect((await reports.store([dlr], [], AT)).counts.applied).toBe(1);

    // The send then times out: only r2, still queued, becomes unknown.
    const late = '2026-11-25T01:00:05.000Z';
    const timedOut = await messages.recordOutcomes(
      batch.map((m) => ({ id: m.id, status: 'unknown', error: 'provider did not answer' })),
      late,
      { messages: batch, hasWebhook: () => true },
    );
    expect(await messages.findForTenant('alpha', 'msg_r1')).toMatchObject({
      status: 'delivered',
      providerMessageId: 'PR-1',
      error: null,
    });
    expect(await statusesOf('msg_r1')).toEqual(['queued', 'delivered']);
    expect(await messages.findForTenant('alpha', 'msg_r2')).toMatchObject({ status: 'unknown' });
    expect(await statusesOf('msg_r2')).toEqual(['queued', 'unknown']);
    expect(timedOut.applied).toEqual(['msg_r2']);
    expect(timedOut.events.map((e) => JSON.parse(e.payload).data.messageId)).toEqual(['msg_r2']);
    expect(await eventStatusesOf('msg_r1')).toEqual(['delivered']);

    // A late answer naming another provider id changes nothing either.
    const answered = await messages.recordOutcomes(
      [{ id: 'msg_r1', status: 'sent', providerMessageId: 'PR-other' }],
      late,
      { messages: batch, hasWebhook: () => true },
    );
    expect(answered).toEqual({ applied: [], events: [] });
    expect(await messages.findForTenant('alpha', 'msg_r1')).toMatchObject({
      status: 'delivered',
      providerMessageId: 'PR-1',
    });
  });

  it('a send outcome racing a delivery report never ends behind it (the conditional UPDATE is atomic)', async () => {
    const messages = createMessageRepository(db);
    const reports = createDeliveryReportRepository(db, () => false);
    const batch = Array.from({ length: 30 }, (_, i) =>
      message(`msg_race${i}`, { batchId: 'bat_race', recipient: `+614120100${String(i).padStart(2, '0')}` }),
    );
    await messages.insertBatch(batch);
    // Started in both orders: on PostgreSQL they really run at once, on separate connections.
    await Promise.all(
      batch.flatMap((m, i) => {
        const timeout = () =>
          messages.recordOutcomes([{ id: m.id, status: 'unknown', error: 'timeout' }], AT);
        const delivered = () =>
          reports.store(
            [
              report(`PRACE-${i}`, 'Delivered', 'delivered', {
                recipient: m.recipient,
                customString: 'bat_race',
              }),
            ],
            [],
            AT,
          );
        return i % 2 === 0 ? [timeout(), delivered()] : [delivered(), timeout()];
      }),
    );
    for (const m of batch) {
      expect(await messages.findForTenant('alpha', m.id)).toMatchObject({ status: 'delivered' });
      expect((await statusesOf(m.id)).at(-1)).toBe('delivered');
    }
  });

  it('settles an unknown message from later delivery reports matched by batch id and number', async () => {
    const messages = createMessageRepository(db);
    const reports = createDeliveryReportRepository(db, () => false);
    await messages.insertBatch([message('msg_u1', { batchId: 'bat_u', recipient: '+61412000301' })]);
    await messages.recordOutcomes([{ id: 'msg_u1', status: 'unknown', error: 'timeout' }], AT);
    // The provider's "Queued" proves the send was accepted: unknown → sent.
    const queued = report('PU-1', 'Queued', 'sent', { recipient: '+61412000301', customString: 'bat_u' });
    expect((await reports.store([queued], [], AT)).counts.applied).toBe(1);
    expect(await messages.findForTenant('alpha', 'msg_u1')).toMatchObject({
      status: 'sent',
      providerMessageId: 'PU-1',
    });
    expect((await reports.store([report('PU-1', 'Delivered', 'delivered')], [], AT)).counts.applied).toBe(1);
    expect(await statusesOf('msg_u1')).toEqual(['queued', 'unknown', 'sent', 'delivered']);
  });

  it('lists messages for operators by status, across tenants, newest first', async () => {
    const messages = createMessageRepository(db);
    await messages.insertBatch([
      message('msg_l1', { batchId: 'bat_l', tenantId: 'beta', createdAt: '2026-11-25T02:00:00.000Z' }),
      message('msg_l2', { batchId: 'bat_l', tenantId: 'beta', createdAt: '2026-11-25T02:00:01.000Z' }),
    ]);
    await messages.recordOutcomes(
      ['msg_l1', 'msg_l2'].map((id) => ({ id, status: 'unknown', error: 'timeout' })),
      AT,
    );
    const unknown = await messages.listAll({ status: 'unknown' }, { offset: 0, size: 25 });
    expect(unknown.items.every((m) => m.status === 'unknown')).toBe(true);
    expect(unknown.items.slice(0, 2).map((m) => m.id)).toEqual(['msg_l2', 'msg_l1']);
    expect(unknown.total).toBe(unknown.items.length);
    const beta = await messages.listAll({ status: 'unknown', tenantId: 'beta' }, { offset: 1, size: 1 });
    expect(beta).toMatchObject({ total: 2, items: [{ id: 'msg_l1', tenantId: 'beta' }] });
  });

  it('routes a reply by our batch id and the replying number, and holds a reply it cannot place', async () => {
    const messages = createMessageRepository(db);
    const inbound = createInboundRepository(db, () => false);
    // Alpha's send timed out: no provider id in the ledger.
    await messages.insertBatch([message('msg_i1', { batchId: 'bat_i', recipient: '+61412000111' })]);
    const reply = (id: string, more: Partial<InboundInput>): InboundInput => ({
      id: `in_${id}`,
      providerMessageId: id,
      sender: '+61412000111',
      text: 'JOIN yes',
      receivedAt: '2026-11-25 12:00:00',
      originalProviderMessageId: null,
      customString: null,
      // The keyword rule would give it to beta.
      fallback: { tenantId: 'beta', routedBy: 'keyword' },
      createdAt: AT,
      ...more,
    });
    const result = await inbound.store(
      [
        reply('R10', { originalProviderMessageId: 'PX-1', customString: 'bat_i' }),
        reply('R11', { originalProviderMessageId: 'PX-2', customString: 'bat_i', sender: '+61412000999' }),
        reply('R12', { originalProviderMessageId: 'PX-3' }),
        reply('R13', { customString: 'bat_nobody' }),
        reply('R14', {}),
      ],
      [],
      AT,
    );
    expect(result.counts).toEqual({ stored: 5, duplicates: 0, rejected: 0 });
    expect(result.events.map((e) => [e.tenantId, JSON.parse(e.payload).data.id])).toEqual([
      ['alpha', 'in_R10'],
      ['beta', 'in_R14'],
    ]);
    const alpha = await inbound.listForTenant('alpha', { offset: 0, size: 25 });
    expect(alpha.items.find((m) => m.id === 'in_R10')).toMatchObject({
      replyTo: 'msg_i1',
      routedBy: 'reply',
    });

    const held = await inbound.listUnrouted({ offset: 0, size: 25 });
    expect(held.items.filter((m) => m.routedBy === 'held').map((m) => m.id)).toEqual([
      'in_R13',
      'in_R12',
      'in_R11',
    ]);
    expect(held.items.find((m) => m.id === 'in_R11')).toMatchObject({
      tenantId: null,
      originalMessageId: 'PX-2',
      customString: 'bat_i',
    });
    expect(held.total).toBe(held.items.length);

    const assigned = await inbound.assign('in_R11', 'alpha', AT);
    expect(assigned).toMatchObject({
      outcome: 'assigned',
      record: { id: 'in_R11', tenantId: 'alpha', routedBy: 'operator' },
    });
    expect(assigned.events.map((e) => [e.tenantId, e.type, JSON.parse(e.payload).data.id])).toEqual([
      ['alpha', 'message.inbound', 'in_R11'],
    ]);
    expect((await inbound.assign('in_R11', 'beta', AT)).outcome).toBe('already_routed');
    expect((await inbound.assign('in_nothing', 'beta', AT)).outcome).toBe('not_found');
    expect((await inbound.listUnrouted({ offset: 0, size: 25 })).items.map((m) => m.id)).not.toContain(
      'in_R11',
    );
  });

  it('allows one reply per form, number and day', async () => {
    const replies = createFormReplyRepository(db);
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        replies.claimDailyReply('contact', '+61412000000', 'day:2026-11-25', AT),
      ),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await replies.claimDailyReply('contact', '+61412000000', 'day:2026-11-26', AT)).toBe(true);
  });

  it('sweeps expired idempotency keys on the injected clock, in bounded batches, and keeps live ones', async () => {
    const keys = createIdempotencyRepository(db);
    const clock = new ManualClock(Date.parse(AT));
    const at = (ms: number) => new Date(ms).toISOString();
    for (let i = 0; i < 7; i++) await keys.claim('alpha', `old-${i}`, 'f', AT, at(clock.now() + 60_000));
    for (let i = 0; i < 3; i++) await keys.claim('alpha', `live-${i}`, 'f', AT, at(clock.now() + 86_400_000));
    const stored = () => db.selectFrom('idempotency_keys').select('key').orderBy('key').execute();
    expect(await stored()).toHaveLength(10);

    // What each delete statement removed, read off the real repository.
    const batches: number[] = [];
    const observed = {
      ...keys,
      deleteExpired: async (now: string, limit: number) => {
        const deleted = await keys.deleteExpired(now, limit);
        batches.push(deleted);
        return deleted;
      },
    };
    const sweeper = createIdempotencySweeper({
      repository: observed,
      clock,
      logger: createLogger({ level: 'silent', secrets: [] }),
      intervalMs: 300_000,
      batchSize: 3,
    });
    sweeper.start();
    clock.advance(300_000);
    await waitFor(async () => (await stored()).length === 3, 5000, 'the expired keys to be swept');
    expect((await stored()).map((row) => row.key)).toEqual(['live-0', 'live-1', 'live-2']);
    expect(batches).toEqual([3, 3, 1]);

    // Later sweeps (one interval after the end of the last) find nothing more to delete.
    await waitFor(
      () => {
        clock.advance(300_000);
        return batches.length >= 4;
      },
      5000,
      'the next sweep',
    );
    await sweeper.stop();
    expect(batches.slice(3).every((deleted) => deleted === 0)).toBe(true);
    const swept = batches.length;
    clock.advance(86_400_000 + 300_000);
    expect(batches).toHaveLength(swept);
    expect(await stored()).toHaveLength(3);
  });
});
