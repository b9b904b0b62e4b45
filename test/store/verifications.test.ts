import {
  createVerificationRepository,
  openPostgresDatabase,
  type Db,
  type VerificationTarget,
} from '../../src/store';
import { DIALECTS, openTestStore, type TestStore } from '../support/databases';

// The verification state lives in the store, so replicas agree: on SQLite and on PostgreSQL (two
// connection pools on one schema standing in for two replicas), the check count never passes the
// cap and a range is flagged once, however the requests interleave.
const T0 = Date.parse('2026-11-25T01:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const window = (ms: number) => ({ since: iso(ms - 3_600_000), now: iso(ms) });

const target = (recipient: string, tenantId = 'alpha'): VerificationTarget => ({
  tenantId,
  recipient,
  country: 'AU',
  range: recipient.slice(0, 8),
  clientIp: '203.0.113.7',
});

describe.each(DIALECTS)('verifications on %s', (dialect) => {
  let store: TestStore;
  let other: TestStore | undefined;
  let db: Db;
  let replicaDb: Db;
  beforeAll(async () => {
    store = await openTestStore(dialect);
    db = store.db;
    if (dialect === 'postgres') {
      replicaDb = await openPostgresDatabase(store.url!);
      other = { db: replicaDb, drop: () => replicaDb.destroy() };
    } else {
      replicaDb = db;
    }
  });
  afterAll(async () => {
    await other?.drop();
    await store.drop();
  });

  const repos = () => [
    createVerificationRepository(db, () => true),
    createVerificationRepository(replicaDb, () => true),
  ];

  it('counts the window per number, range, country and IP; a new code cancels the pending one', async () => {
    const [repo] = repos();
    const seen: unknown[] = [];
    const send = (id: string, recipient: string, at: number) =>
      repo!.request(target(recipient), window(at), (counts) => (seen.push(counts), { send: true }), {
        id,
        codeHash: 'h'.repeat(64),
        expiresAt: iso(at + 600_000),
      });
    await send('vrf_a1', '+61400000001', T0);
    const second = await send('vrf_a2', '+61400000001', T0 + 60_000);
    await send('vrf_a3', '+61400000002', T0 + 120_000);
    expect(second).toEqual({ sent: true, canceled: 1 });
    expect(seen[2]).toEqual({
      sentToNumber: 0,
      sentToRange: 2,
      sentToCountry: 2,
      sentFromIp: 2,
      lastSentToNumberAt: null,
      rangeRequests: 2,
      rangeApproved: 0,
      rangeFlagged: false,
    });
    expect((await repo!.find('alpha', 'vrf_a1'))?.status).toBe('canceled');
    expect((await repo!.findLatestFor('alpha', '+61400000001'))?.id).toBe('vrf_a2');
    // An hour later the window is empty again.
    await send('vrf_a4', '+61400000001', T0 + 3_800_000);
    expect(seen[3]).toMatchObject({ sentToNumber: 0, sentToRange: 0, rangeRequests: 0 });
  });

  it('never counts more than maxChecks checks, even racing from two replicas', async () => {
    const [a, b] = repos();
    await a!.request(target('+61400000100'), window(T0), () => ({ send: true }), {
      id: 'vrf_race',
      codeHash: 'h'.repeat(64),
      expiresAt: iso(T0 + 600_000),
    });
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        (i % 2 ? a! : b!).check('alpha', 'vrf_race', iso(T0 + 1000), 5, () => false),
      ),
    );
    expect(outcomes.filter((o) => o.result === 'denied' && o.reason === 'wrong_code')).toHaveLength(5);
    expect(outcomes.filter((o) => o.result === 'denied' && o.reason === 'locked')).toHaveLength(7);
    const row = await db
      .selectFrom('verifications')
      .select(['checks', 'status'])
      .where('id', '=', 'vrf_race')
      .executeTakeFirst();
    expect(row).toEqual({ checks: 5, status: 'locked' });
  });

  it('approves once with its event; an expired code is expired once, with its event', async () => {
    const [a, b] = repos();
    for (const id of ['vrf_ok', 'vrf_old'])
      await a!.request(
        target(`+614000002${id.length}${id === 'vrf_ok' ? 1 : 2}`),
        window(T0),
        () => ({ send: true }),
        {
          id,
          codeHash: 'h'.repeat(64),
          expiresAt: iso(T0 + 600_000),
        },
      );
    const approved = await Promise.all(
      [a!, b!].map((r) => r.check('alpha', 'vrf_ok', iso(T0 + 1000), 5, () => true)),
    );
    expect(approved.map((o) => o.result).sort()).toEqual(['approved', 'denied']);
    expect(approved.flatMap((o) => o.events).map((e) => e.type)).toEqual(['verification.approved']);
    const swept = await Promise.all([a!, b!].map((r) => r.expireDue(iso(T0 + 600_000), 100)));
    expect(swept.flat().map((e) => [e.type, JSON.parse(e.payload).data.verificationId])).toEqual([
      ['verification.expired', 'vrf_old'],
    ]);
  });

  it('flags a range once: one alert and one fraud.suspected, then refusals without counting', async () => {
    const [a, b] = repos();
    const ask = (i: number) =>
      (i % 2 ? a! : b!).request(
        target(`+6141300${String(i).padStart(4, '0')}`),
        window(T0 + i),
        (counts) =>
          counts.rangeFlagged
            ? { send: false, refusal: 'fraud' }
            : counts.rangeRequests + 1 >= 5
              ? { send: false, refusal: 'fraud', flagRange: true }
              : { send: false, refusal: 'range' },
        { id: `vrf_f${i}`, codeHash: 'h'.repeat(64), expiresAt: iso(T0 + 600_000) },
      );
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => ask(i)));
    const events = outcomes.flatMap((o) => ('events' in o ? o.events : []));
    expect(events.map((e) => [e.type, e.tenantId])).toEqual([['fraud.suspected', '_admin']]);
    const alerts = await db.selectFrom('verification_alerts').selectAll().execute();
    expect(alerts).toHaveLength(1);
  });
});
