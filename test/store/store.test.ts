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
  type MessageRecord,
} from '../../src/store';
import { statusRank } from '../../src/callbacks';
import { createIdempotencySweeper } from '../../src/messages';
import { createLogger } from '../../src/observability';
import { ManualClock } from '../support/manual-clock';
import { waitFor } from '../support/wait';
import { DIALECTS, openTestStore, type TestStore } from '../support/databases';

// The whole store, through its repositories, on both dialects: the embedded SQLite file and the
// PostgreSQL that cluster mode uses (a real server; a fresh schema per run).
const AT = '2026-11-25T01:00:00.000Z';
const unlimited: ClaimRoom = { take: () => true, giveBack: () => undefined };

function message(id: string, overrides: Partial<MessageRecord> = {}): MessageRecord {
  return {
    id,
    tenantId: 'alpha',
    batchId: 'bat_1',
    recipient: '+61412345678',
    sender: '',
    text: 'hello',
    segments: 1,
    encoding: 'GSM-7',
    status: 'queued',
    reference: null,
    providerMessageId: null,
    error: null,
    scheduledAt: null,
    createdAt: AT,
    updatedAt: AT,
    ...overrides,
  };
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
      rank: statusRank('delivered'),
      recipient: '+61412345678',
      customString: null,
    };
    const first = await reports.store([report], [], AT, statusRank);
    expect(first.counts).toEqual({ applied: 1, duplicates: 0, ignored: 0, rejected: 0 });
    expect(first.events).toHaveLength(1);
    expect(JSON.parse(first.events[0]!.payload)).toMatchObject({
      id: first.events[0]!.eventId,
      type: 'message.status',
      data: { messageId: 'msg_1', status: 'delivered' },
    });
    const again = await reports.store([report], [{ reason: 'bad', payload: '{}' }], AT, statusRank);
    expect(again.counts).toEqual({ applied: 0, duplicates: 1, ignored: 0, rejected: 1 });
    const late = await reports.store(
      [{ ...report, providerStatus: 'Queued', status: 'sent', rank: statusRank('sent') }],
      [],
      AT,
      statusRank,
    );
    expect(late.counts.ignored).toBe(1);
    const outbox = await db.selectFrom('webhook_deliveries').selectAll().execute();
    expect(outbox.map((row) => row.event_id)).toEqual([first.events[0]!.eventId]);
  });

  it('routes and stores inbound messages once, with events only for routed ones', async () => {
    const inbound = createInboundRepository(db, () => false);
    const item = (id: string, tenant: string | null) => ({
      id: `in_${id}`,
      providerMessageId: id,
      sender: '+61412000000',
      text: 'hi',
      receivedAt: '2026-11-25 12:00:00',
      originalProviderMessageId: id === 'R1' ? 'P-1' : null,
      fallback: { tenantId: tenant, routedBy: (tenant ? 'keyword' : 'none') as 'keyword' | 'none' },
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
    expect(redeemed.filter((tenant) => tenant === 'alpha')).toHaveLength(1);
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
        rank: statusRank('delivered'),
        recipient: null,
        customString: null,
      })),
      [],
      AT,
      statusRank,
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
