import SQLite from 'better-sqlite3';
import { CompiledQuery } from 'kysely';
import { Pool } from 'pg';
import {
  createGroupCommit,
  createMessageRepository,
  openPostgresDatabase,
  type Db,
  type MessageRecord,
  type MessageRepository,
} from '../../src/store';
import { kyselyOnSqlite, migrateToLatest } from '../../src/store/database';
import { outcomeUpdate } from '../../src/store/message-repository';
import { preparedSqlite } from '../../src/store/statements';
import { waitFor } from '../support/wait';
import { DIALECTS, openTestStore, type TestStore } from '../support/databases';
import { queuedBatch } from '../support/messages';

// Issue 15, the ledger's store side: the per-tenant message counter (the page block's count
// without COUNT(*)), positions that make any page a seek, the ?after= cursor, and group commit.

function batchOf(tenantId: string, size: number): MessageRecord[] {
  return queuedBatch(tenantId, size);
}

async function ledgerOf(
  db: Db,
  tenantId: string,
): Promise<{ counter: number; rows: number; seqs: number[] }> {
  const counter = await db
    .selectFrom('tenant_message_counts')
    .select('messages')
    .where('tenant_id', '=', tenantId)
    .executeTakeFirst();
  const seqs = await db
    .selectFrom('messages')
    .select('tenant_seq')
    .where('tenant_id', '=', tenantId)
    .orderBy('tenant_seq')
    .execute();
  return {
    counter: Number(counter?.messages ?? 0),
    rows: seqs.length,
    seqs: seqs.map((r) => Number(r.tenant_seq)),
  };
}

const oneToN = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/** Every page through ?page= and through ?after=, as ids. */
async function walk(messages: MessageRepository, tenantId: string, size: number) {
  const byPage: string[][] = [];
  for (let offset = 0; ; offset += size) {
    const { items } = await messages.listForTenant(tenantId, { offset, size });
    if (items.length === 0) break;
    byPage.push(items.map((m) => m.id));
  }
  const byCursor: string[][] = [];
  const numbers: number[] = [];
  let last = byPage[0]?.at(-1);
  if (byPage[0]) byCursor.push(byPage[0]);
  numbers.push(1);
  while (last !== undefined) {
    const found = await messages.listAfter(tenantId, last, size);
    if (!found || found.items.length === 0) break;
    byCursor.push(found.items.map((m) => m.id));
    numbers.push(Math.floor(found.newer / size) + 1);
    last = found.items.at(-1)?.id;
  }
  return { byPage, byCursor, numbers };
}

describe.each(DIALECTS)('the ledger on %s', (dialect) => {
  let store: TestStore;
  let db: Db;
  beforeAll(async () => {
    store = await openTestStore(dialect);
    db = store.db;
  });
  afterAll(() => store.drop());

  it('keeps each tenant’s message counter exact, and positions dense, under concurrent inserts', async () => {
    // Two repositories (two group-commit queues) over one database, and on PostgreSQL a second
    // replica with its own pool: the inserts really overlap.
    const others: Db[] = [];
    if (store.url) others.push(await openPostgresDatabase(store.url));
    const writers = [db, db, ...others].map((d) => createMessageRepository(d));
    const sizes = Array.from({ length: 120 }, (_, i) => 1 + ((i * 7) % 13));
    await Promise.all(
      sizes.map((size, i) =>
        (writers[i % writers.length] as MessageRepository).insertBatch(
          batchOf(i % 3 === 0 ? 'count-b' : 'count-a', size),
        ),
      ),
    );
    for (const tenantId of ['count-a', 'count-b']) {
      const expected = sizes
        .filter((_, i) => (i % 3 === 0) === (tenantId === 'count-b'))
        .reduce((a, b) => a + b);
      const ledger = await ledgerOf(db, tenantId);
      expect(ledger).toEqual({ counter: expected, rows: expected, seqs: oneToN(expected) });
      expect((await writers[0]!.listForTenant(tenantId, { offset: 0, size: 25 })).total).toBe(expected);
    }
    await Promise.all(others.map((d) => d.destroy()));
  });

  it('a failed insert changes neither the counter nor the positions, and fails only its own caller', async () => {
    const messages = createMessageRepository(db);
    const first = batchOf('fail-a', 3);
    await messages.insertBatch(first);
    // Sent together: the duplicate fails the group's transaction; the others are written again alone.
    const results = await Promise.allSettled([
      messages.insertBatch(batchOf('fail-a', 2)),
      messages.insertBatch([first[0]!]),
      messages.insertBatch(batchOf('fail-a', 4)),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await ledgerOf(db, 'fail-a')).toEqual({ counter: 9, rows: 9, seqs: oneToN(9) });
  });

  // SQLite: one transaction for both; PostgreSQL: one each, written at once on two connections.
  const together = dialect === 'sqlite';
  it(`writes the inserts and outcomes of one turn in ${together ? 'one transaction' : 'a transaction each'}; a failing insert fails only its caller`, async () => {
    // The database seen through a proxy that counts the transactions begun on it. (Through the
    // proxy, SQLite's plans run as PostgreSQL's do, through a kysely transaction: the handle is
    // registered for the database itself.)
    let transactions = 0;
    const counted = new Proxy(db, {
      get(target, name) {
        if (name === 'transaction') transactions++;
        const value: unknown = Reflect.get(target, name, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const messages = createMessageRepository(counted);
    const sent = batchOf('mixed', 2);
    await messages.insertBatch(sent);
    transactions = 0;
    const fresh = batchOf('mixed', 3);
    const [inserted, recorded] = await Promise.all([
      messages.insertBatch(fresh),
      messages.recordOutcomes(
        sent.map((m) => ({ id: m.id, status: 'sent', providerMessageId: `P-${m.id}` })),
        '2026-11-25T01:00:01.000Z',
      ),
    ]);
    expect(inserted).toBeUndefined();
    expect(recorded.applied).toEqual(sent.map((m) => m.id));
    expect(transactions).toBe(together ? 1 : 2);
    expect(await ledgerOf(db, 'mixed')).toEqual({ counter: 5, rows: 5, seqs: oneToN(5) });

    // A duplicate insert fails the shared transaction; each job is then written alone.
    transactions = 0;
    const results = await Promise.allSettled([
      messages.insertBatch([fresh[0]!]),
      messages.recordOutcomes(
        [{ id: fresh[1]!.id, status: 'failed', error: 'refused' }],
        '2026-11-25T01:00:02.000Z',
      ),
      messages.insertBatch(batchOf('mixed', 1)),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    expect(results[1]).toMatchObject({ value: { applied: [fresh[1]!.id] } });
    // SQLite: the group, then each of its three jobs alone; PostgreSQL: the inserts' group, then
    // each insert alone, and the outcome's own.
    expect(transactions).toBe(4);
    const statuses = new Map((await messages.findBatch(fresh[0]!.batchId)).map((m) => [m.id, m.status]));
    expect(statuses.get(fresh[1]!.id)).toBe('failed');
    expect(await ledgerOf(db, 'mixed')).toEqual({ counter: 6, rows: 6, seqs: oneToN(6) });
  });

  it('pages by ?after= exactly as by ?page=, newest first, and numbers the page', async () => {
    const messages = createMessageRepository(db);
    const batches = [5, 1, 12, 3, 9, 1, 7].map((n) => batchOf('pages', n));
    for (const batch of batches) await messages.insertBatch(batch);
    const newestFirst = batches
      .flat()
      .map((m) => m.id)
      .reverse();
    const { byPage, byCursor, numbers } = await walk(messages, 'pages', 5);
    expect(byPage.flat()).toEqual(newestFirst);
    expect(byCursor).toEqual(byPage);
    expect(numbers).toEqual(oneToN(byPage.length));
    const past = await messages.listForTenant('pages', { offset: 1000, size: 5 });
    expect(past).toEqual({ items: [], total: newestFirst.length });
    expect(await messages.listAfter('pages', newestFirst.at(-1)!, 5)).toMatchObject({ items: [] });
    // Another tenant's message is no cursor here.
    await messages.insertBatch(batchOf('pages-other', 1));
    const [foreign] = (await messages.listForTenant('pages-other', { offset: 0, size: 1 })).items;
    expect(await messages.listAfter('pages', foreign!.id, 5)).toBeUndefined();
  });

  it('a cursor page stays the same while newer messages arrive; page numbers shift', async () => {
    const messages = createMessageRepository(db);
    for (let i = 0; i < 4; i++) await messages.insertBatch(batchOf('steady', 3));
    const first = await messages.listForTenant('steady', { offset: 0, size: 4 });
    const cursor = first.items.at(-1)!.id;
    const before = await messages.listAfter('steady', cursor, 4);
    await messages.insertBatch(batchOf('steady', 6));
    const after = await messages.listAfter('steady', cursor, 4);
    expect(after!.items).toEqual(before!.items);
    expect(after).toMatchObject({ total: 18, newer: 10 });
  });

  it('answers a send only after its rows are committed (group commit)', async () => {
    const messages = createMessageRepository(db);
    const batches = Array.from({ length: 20 }, () => batchOf('durable', 2));
    const seen: boolean[] = [];
    await Promise.all(
      batches.map(async (batch) => {
        await messages.insertBatch(batch);
        // Resolved: the rows are there for any reader (on PostgreSQL, on another connection).
        const reader = store.url ? new Pool({ connectionString: store.url, max: 1 }) : undefined;
        const row = reader
          ? (await reader.query('select id from messages where id = $1', [batch[1]!.id])).rows[0]
          : await db.selectFrom('messages').select('id').where('id', '=', batch[1]!.id).executeTakeFirst();
        await reader?.end();
        seen.push(row !== undefined);
      }),
    );
    expect(seen).toEqual(batches.map(() => true));
  });

  if (dialect === 'postgres') {
    it('holds the answer while the commit waits (the counter row is locked elsewhere)', async () => {
      const messages = createMessageRepository(db);
      await messages.insertBatch(batchOf('held', 1));
      const locker = new Pool({ connectionString: store.url, max: 2 });
      const client = await locker.connect();
      await client.query('begin');
      await client.query(`select messages from tenant_message_counts where tenant_id = 'held' for update`);
      let answered = false;
      const batch = batchOf('held', 2);
      const pending = messages.insertBatch(batch).then(() => {
        answered = true;
      });
      // The insert is waiting on the lock (seen by the server, from outside the locking
      // transaction: inside it, pg_stat_activity is one snapshot), and has not answered.
      await waitFor(async () => {
        const { rows } = await locker.query(
          `select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and query like '%tenant_message_counts%'`,
        );
        return (rows[0] as { n: number }).n > 0;
      });
      expect(answered).toBe(false);
      await client.query('rollback');
      client.release();
      await pending;
      const { rows } = await locker.query('select count(*)::int as n from messages where batch_id = $1', [
        batch[0]!.batchId,
      ]);
      expect(rows[0]).toEqual({ n: 2 });
      await locker.end();
    });
  }
});

describe('group commit', () => {
  function deferred() {
    let resolve!: () => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  }

  it('writes what arrives during a write as the next group, answering each only after its group is written', async () => {
    const writes: { jobs: number[]; done: ReturnType<typeof deferred> }[] = [];
    const submit = createGroupCommit<number, string>(async (jobs) => {
      const done = deferred();
      writes.push({ jobs, done });
      await done.promise;
      return jobs.map((j) => `wrote ${j}`);
    });
    const answered: string[] = [];
    const track = (p: Promise<string>) => p.then((a) => void answered.push(a));
    const first = [track(submit(1)), track(submit(2))];
    await waitFor(() => writes.length === 1);
    const second = [track(submit(3)), track(submit(4)), track(submit(5))];
    expect(writes.map((w) => w.jobs)).toEqual([[1, 2]]);
    await Promise.resolve();
    expect(answered).toEqual([]);
    writes[0]!.done.resolve();
    await Promise.all(first);
    expect(answered).toEqual(['wrote 1', 'wrote 2']);
    await waitFor(() => writes.length === 2);
    expect(writes[1]!.jobs).toEqual([3, 4, 5]);
    expect(answered).toHaveLength(2);
    writes[1]!.done.resolve();
    await Promise.all(second);
    expect(answered).toEqual(['wrote 1', 'wrote 2', 'wrote 3', 'wrote 4', 'wrote 5']);
  });

  it('after a failed group, writes each job alone: only the bad one fails, with its own error', async () => {
    const groups: number[][] = [];
    const submit = createGroupCommit<number, number>(async (jobs) => {
      groups.push(jobs);
      if (jobs.includes(2)) throw new Error(`cannot write 2 (group of ${jobs.length})`);
      return jobs.map((j) => j * 10);
    });
    const results = await Promise.allSettled([submit(1), submit(2), submit(3)]);
    expect(results).toEqual([
      { status: 'fulfilled', value: 10 },
      { status: 'rejected', reason: new Error('cannot write 2 (group of 1)') },
      { status: 'fulfilled', value: 30 },
    ]);
    expect(groups).toEqual([[1, 2, 3], [1], [2], [3]]);
  });

  it('closes a group at its row limit; a job over the limit alone is a group of its own', async () => {
    const groups: number[][] = [];
    // A job's rows are its value: at most 1,000 rows a group, at most 3 jobs.
    const submit = createGroupCommit<number, number>(
      async (jobs) => {
        groups.push(jobs);
        return jobs;
      },
      { maxJobs: 3, maxRows: 1000, rowsOf: (rows) => rows },
    );
    await Promise.all([1500, 400, 500, 200, 1, 1, 1, 1].map((rows) => submit(rows)));
    expect(groups).toEqual([[1500], [400, 500], [200, 1, 1], [1, 1]]);
  });
});

describe('recording outcomes on SQLite', () => {
  let store: TestStore;
  beforeAll(async () => {
    store = await openTestStore('sqlite');
  });
  afterAll(() => store.drop());

  it('finds the messages by id, not by walking every queued message through the status index', async () => {
    const messages = createMessageRepository(store.db);
    await messages.insertBatch(batchOf('backlog', 500)); // queued, waiting for the budget
    // One statement's worth (200): with as many ids, SQLite's planner preferred the status index.
    const batch = batchOf('outcomes', 200);
    const reported = batch[0] as MessageRecord;
    await messages.insertBatch(batch);
    await messages.recordOutcomes([{ id: reported.id, status: 'delivered' }], '2026-11-25T01:00:01.000Z');
    const outcomes = batch.map((m) => ({ id: m.id, status: 'sent', providerMessageId: `P-${m.id}` }));

    const step = outcomeUpdate(() => '?', outcomes, '2026-11-25T01:00:02.000Z');
    if (step === undefined) throw new Error('sent has lower statuses');
    const plan = await store.db.executeQuery<{ detail: string }>(
      CompiledQuery.raw(`explain query plan ${step.text}`, [...step.values]),
    );
    const details = plan.rows.map((row) => row.detail).join('\n');
    expect(details).toMatch(/USING INDEX sqlite_autoindex_messages_1 \(id=\?\)/);
    expect(details).not.toMatch(/messages_status_created/);

    // And the rank check still holds: the delivered message keeps its status.
    const { applied } = await messages.recordOutcomes(outcomes, '2026-11-25T01:00:02.000Z');
    expect(applied).toEqual(batch.slice(1).map((m) => m.id));
    const statuses = new Map((await messages.findBatch(reported.batchId)).map((m) => [m.id, m.status]));
    expect(statuses.get(reported.id)).toBe('delivered');
    expect([...statuses.values()].filter((status) => status === 'sent')).toHaveLength(199);
  });
});

describe("the shared group on SQLite's own path (the better-sqlite3 handle)", () => {
  let db: Db;
  let begins = 0;
  beforeAll(async () => {
    // A database opened as openSqliteDatabase opens one, with every BEGIN counted.
    const prepared = preparedSqlite(new SQLite(':memory:'));
    db = kyselyOnSqlite({
      ...prepared,
      prepare: (text: string) => {
        if (text === 'begin') begins++;
        return prepared.prepare(text);
      },
    });
    await migrateToLatest(db);
  });
  afterAll(() => db.destroy());

  it('writes an insert and an outcome of one turn in one transaction', async () => {
    const messages = createMessageRepository(db);
    const sent = batchOf('real', 1);
    await messages.insertBatch(sent);
    begins = 0;
    const [, recorded] = await Promise.all([
      messages.insertBatch(batchOf('real', 2)),
      messages.recordOutcomes([{ id: sent[0]!.id, status: 'sent' }], '2026-11-25T01:00:01.000Z'),
    ]);
    expect(recorded.applied).toEqual([sent[0]!.id]);
    expect(begins).toBe(1);
    expect(await ledgerOf(db, 'real')).toEqual({ counter: 3, rows: 3, seqs: oneToN(3) });
  });

  it('an outcome that fails rolls back its group, and each job is written alone once', async () => {
    const messages = createMessageRepository(db);
    const sent = batchOf('rolled', 2);
    await messages.insertBatch(sent);
    const [good, bad] = sent as [MessageRecord, MessageRecord];
    const failing = (tenantId: string) => {
      if (tenantId === 'rolled') throw new Error('the webhook table is unreadable');
      return false;
    };
    begins = 0;
    const results = await Promise.allSettled([
      messages.insertBatch(batchOf('rolled', 3)),
      messages.recordOutcomes([{ id: good.id, status: 'sent' }], '2026-11-25T01:00:01.000Z'),
      messages.recordOutcomes([{ id: bad.id, status: 'failed' }], '2026-11-25T01:00:01.000Z', {
        messages: [bad],
        hasWebhook: failing,
      }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect(results[1]).toMatchObject({ value: { applied: [good.id] } });
    expect(begins).toBe(4); // the group, then each of its three jobs alone
    // The insert is there once, the good outcome applied once (one event), the bad one not at all.
    expect(await ledgerOf(db, 'rolled')).toEqual({ counter: 5, rows: 5, seqs: oneToN(5) });
    const statuses = new Map((await messages.findBatch(good.batchId)).map((m) => [m.id, m.status]));
    expect([statuses.get(good.id), statuses.get(bad.id)]).toEqual(['sent', 'queued']);
    const events = await db
      .selectFrom('message_events')
      .select(['message_id', 'status'])
      .where('message_id', 'in', [good.id, bad.id])
      .orderBy('id')
      .execute();
    expect(events).toEqual([
      { message_id: good.id, status: 'queued' },
      { message_id: bad.id, status: 'queued' },
      { message_id: good.id, status: 'sent' },
    ]);
  });
});
