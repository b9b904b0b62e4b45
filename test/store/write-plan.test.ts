import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  ACCOUNT_SCOPE,
  createMessageRepository,
  createQuotaRepository,
  createSuppressionRepository,
  type Db,
  type MessageRecord,
} from '../../src/store';
import { OWN_TURN_COMMIT_ROWS, runPlan, YIELD_AFTER_ROWS, type Plan } from '../../src/store/write-plan';
import { DIALECTS, openTestStore, type TestStore } from '../support/databases';
import { queuedBatch } from '../support/messages';
import { countTurns } from '../support/wait';

// The ledger's writes as plans (src/store/write-plan.ts): on SQLite they run synchronously on the
// better-sqlite3 handle, one transaction per group, yielding to the event loop between chunks of a
// large batch; on PostgreSQL through a kysely transaction. Both must commit all or nothing.
const AT = '2026-11-25T01:00:00.000Z';

function batchOf(tenantId: string, size: number): MessageRecord[] {
  return queuedBatch(tenantId, size, { idPrefix: 'msg_wp_', batchPrefix: 'wp_' });
}

async function countsOf(db: Db, tenantId: string) {
  const messages = await db
    .selectFrom('messages')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('tenant_id', '=', tenantId)
    .executeTakeFirstOrThrow();
  const events = await db
    .selectFrom('message_events')
    .innerJoin('messages', 'messages.id', 'message_events.message_id')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('messages.tenant_id', '=', tenantId)
    .executeTakeFirstOrThrow();
  const counter = await db
    .selectFrom('tenant_message_counts')
    .select('messages')
    .where('tenant_id', '=', tenantId)
    .executeTakeFirst();
  return { messages: Number(messages.n), events: Number(events.n), counter: Number(counter?.messages ?? 0) };
}

/** Counts the event loop's turns until `promise` settles. */
async function turnsDuring(promise: Promise<unknown>): Promise<number> {
  const counter = countTurns();
  try {
    await promise;
    return counter.turns;
  } finally {
    counter.stop();
  }
}

describe.each(DIALECTS)('the ledger’s write plans on %s', (dialect) => {
  let store: TestStore;
  let db: Db;
  beforeAll(async () => {
    store = await openTestStore(dialect);
    db = store.db;
  });
  afterAll(() => store.drop());

  it('writes a 1,000-recipient send and its answer whole', async () => {
    const messages = createMessageRepository(db);
    const batch = batchOf('big', 1000);
    await messages.insertBatch(batch);
    const { applied } = await messages.recordOutcomes(
      batch.map((m, i) =>
        i % 10 === 0
          ? { id: m.id, status: 'failed', error: 'refused' }
          : { id: m.id, status: 'sent', providerMessageId: `P-${m.id}` },
      ),
      AT,
    );
    expect(applied).toHaveLength(1000);
    expect(await countsOf(db, 'big')).toEqual({ messages: 1000, events: 2000, counter: 1000 });
    const found = await messages.findBatch(batch[0]!.batchId);
    expect(found.filter((m) => m.status === 'sent')).toHaveLength(900);
    expect(found[1]).toMatchObject({ status: 'sent', providerMessageId: `P-${batch[1]!.id}` });
    expect(found[0]).toMatchObject({ status: 'failed', error: 'refused', providerMessageId: null });
  });

  it('a rolled-back 1,000-recipient send writes nothing, though it spans several chunks', async () => {
    const messages = createMessageRepository(db);
    await messages.insertBatch(batchOf('undone', 1));
    const batch = batchOf('undone', 1000);
    // The last row repeats the first one's id: the last chunk fails, after the others were written.
    batch[999] = { ...batch[999]!, id: batch[0]!.id };
    // Matched by code: better-sqlite3's errors may come from another test file's realm (not `instanceof Error` here).
    await expect(messages.insertBatch(batch)).rejects.toMatchObject({
      code: dialect === 'sqlite' ? 'SQLITE_CONSTRAINT_PRIMARYKEY' : '23505',
    });
    expect(await countsOf(db, 'undone')).toEqual({ messages: 1, events: 1, counter: 1 });
  });

  it('a plan that throws midway rolls back what it wrote, and fails with its own error', async () => {
    function* plan(): Plan<void> {
      yield {
        text: `insert into "tenant_message_counts" ("tenant_id", "messages") values ('plan-undone', 5)`,
        values: [],
      };
      throw new Error('the plan changed its mind');
    }
    await expect(runPlan(db, plan)).rejects.toThrow('the plan changed its mind');
    expect(await countsOf(db, 'plan-undone')).toEqual({ messages: 0, events: 0, counter: 0 });
    // The database is usable afterwards (no transaction left open).
    await createMessageRepository(db).insertBatch(batchOf('plan-undone', 2));
    expect(await countsOf(db, 'plan-undone')).toEqual({ messages: 2, events: 2, counter: 2 });
  });

  it('in a group with a failing write, only that caller fails; the others are written', async () => {
    const messages = createMessageRepository(db);
    const first = batchOf('group-fail', 2);
    await messages.insertBatch(first);
    const results = await Promise.allSettled([
      messages.insertBatch(batchOf('group-fail', 3)),
      messages.insertBatch(batchOf('group-fail', 1).map((m) => ({ ...m, id: first[1]!.id }))),
      messages.insertBatch(batchOf('group-fail', 4)),
      messages.recordOutcomes([{ id: first[0]!.id, status: 'sent', providerMessageId: 'P-1' }], AT),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(await countsOf(db, 'group-fail')).toEqual({ messages: 9, events: 10, counter: 9 });
  });

  it('announces applied outcomes as events, with their ids in order', async () => {
    const messages = createMessageRepository(db);
    const batch = batchOf('announced', 3);
    await messages.insertBatch(batch);
    const { applied, events } = await messages.recordOutcomes(
      batch.map((m) => ({ id: m.id, status: 'sent', providerMessageId: `P-${m.id}` })),
      AT,
      { messages: batch, hasWebhook: () => true },
    );
    expect(applied).toEqual(batch.map((m) => m.id));
    expect(events.map((e) => JSON.parse(e.payload).data.messageId)).toEqual(applied);
    const ids = events.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    const outbox = await db
      .selectFrom('webhook_deliveries')
      .select('event_id')
      .where('tenant_id', '=', 'announced')
      .orderBy('id')
      .execute();
    expect(outbox.map((r) => r.event_id)).toEqual(events.map((e) => e.eventId));
  });

  it('a quota reservation refused by its second period leaves the first unchanged', async () => {
    const quotas = createQuotaRepository(db);
    const day = { period: 'day:2026-11-25', limit: 100 };
    const month = { period: 'month:2026-11', limit: 5 };
    expect(await quotas.reserve('plan-quota', [day, month], 4)).toEqual({ exceeded: undefined });
    expect(await quotas.reserve('plan-quota', [day, month], 2)).toEqual({ exceeded: 'month:2026-11' });
    // Credits count their own amount in the same reservation.
    expect(await quotas.reserve('plan-quota', [day, { ...month, amount: 1 }], 50)).toEqual({
      exceeded: undefined,
    });
    const usage = await quotas.usage('plan-quota', [day.period, month.period]);
    expect(Object.fromEntries(usage)).toEqual({ [day.period]: 54, [month.period]: 5 });
  });

  it("finds a send's suppressed numbers on its tenant's list and the account's, not another tenant's, past a chunk", async () => {
    const suppressions = createSuppressionRepository(
      db,
      () => false,
      () => [],
    );
    const numbers = Array.from({ length: 1200 }, (_, i) => `+614${String(10_000_000 + i)}`);
    const optOut = (scope: string, number: string) =>
      ({ action: 'opt_out', scope, number, source: 'admin', reason: null }) as const;
    await suppressions.apply(
      [
        optOut('listed', numbers[3]!),
        optOut(ACCOUNT_SCOPE, numbers[700]!), // in the second chunk of 500
        optOut('someone-else', numbers[1100]!),
      ],
      AT,
    );
    const found = await suppressions.suppressedAmong('listed', numbers);
    expect([...found].sort()).toEqual([numbers[3], numbers[700]].sort());
    expect(await suppressions.suppressedAmong('listed', [numbers[1100]!])).toEqual(new Set());
  });

  if (dialect === 'sqlite') {
    it('writes a one-recipient send without yielding mid-write (synchronously, once its group starts)', async () => {
      const messages = createMessageRepository(db);
      const [message] = batchOf('sync', 1);
      const turns = await turnsDuring(messages.insertBatch([message!]));
      expect(turns).toBe(0);
    });

    it('lets the event loop turn between chunks of a large batch; readers see it whole or not at all', async () => {
      const messages = createMessageRepository(db);
      const batch = batchOf('chunked', 1000);
      let seenDuring: number | undefined;
      // Two turns: the group's write starts at the end of the first (group-commit.ts), so the
      // read comes while it is under way, between two chunks.
      const reading = nextTurn()
        .then(() => nextTurn())
        .then(async () => (seenDuring = (await countsOf(db, 'chunked')).messages));
      const turns = await turnsDuring(messages.insertBatch(batch));
      await reading;
      // 2,000 rows (messages and their events) at YIELD_AFTER_ROWS per turn.
      expect(turns).toBeGreaterThanOrEqual(Math.floor(2000 / YIELD_AFTER_ROWS) - 1);
      expect(seenDuring).toBe(1000);
    });

    it('after the COMMIT of a large transaction, lets the event loop turn before the next transaction starts', async () => {
      // Each step stamped with the turn of the event loop it ran in. The large plan's one statement
      // counts as YIELD_AFTER_ROWS rows, so the driver yields after it; its COMMIT (where SQLite
      // checkpoints a grown WAL) follows its last step at once.
      const counter = countTurns();
      const seen = new Map<string, number>();
      function* large(): Plan<void> {
        yield { text: 'select 1', values: [], rows: YIELD_AFTER_ROWS };
        seen.set('large commits', counter.turns);
      }
      function* small(): Plan<void> {
        seen.set('small begins', counter.turns);
        yield { text: 'select 1', values: [] };
        seen.set('small commits', counter.turns);
      }
      function* alsoSmall(): Plan<void> {
        seen.set('also small begins', counter.turns);
        yield { text: 'select 1', values: [] };
      }
      // Each waits for the connection behind the one before it.
      try {
        await Promise.all([runPlan(db, large), runPlan(db, small), runPlan(db, alsoSmall)]);
      } finally {
        counter.stop();
      }
      expect(seen.get('small begins')).toBeGreaterThan(seen.get('large commits')!);
      // A small transaction hands the connection on in the same turn.
      expect(seen.get('also small begins')).toBe(seen.get('small commits'));
    });

    it('gives the COMMIT of a transaction of OWN_TURN_COMMIT_ROWS rows a turn before it and one after, though it never yielded', async () => {
      function* writing(rows: number): Plan<void> {
        yield { text: 'select 1', values: [], rows };
      }
      expect(OWN_TURN_COMMIT_ROWS).toBeLessThan(YIELD_AFTER_ROWS);
      expect(await turnsDuring(runPlan(db, () => writing(OWN_TURN_COMMIT_ROWS - 1)))).toBe(0);
      expect(await turnsDuring(runPlan(db, () => writing(OWN_TURN_COMMIT_ROWS)))).toBe(2);
      // One that just yielded (YIELD_AFTER_ROWS written) has no second turn before its COMMIT.
      expect(await turnsDuring(runPlan(db, () => writing(YIELD_AFTER_ROWS)))).toBe(2);
    });

    it('never joins a kysely transaction open at the same time: its rollback leaves the batch', async () => {
      const messages = createMessageRepository(db);
      const batch = batchOf('apart', 2);
      let writing: Promise<void> | undefined;
      await expect(
        db.transaction().execute(async (trx) => {
          await trx
            .insertInto('tenant_message_counts')
            .values({ tenant_id: 'apart-other', messages: 1 })
            .execute();
          writing = messages.insertBatch(batch);
          await nextTurn();
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      await writing;
      expect(await countsOf(db, 'apart')).toEqual({ messages: 2, events: 2, counter: 2 });
      expect(await countsOf(db, 'apart-other')).toEqual({ messages: 0, events: 0, counter: 0 });
    });
  }
});
