import { setImmediate as nextTurn } from 'node:timers/promises';
import { sql, type Transaction } from 'kysely';
import { openSqliteDatabase, type Database, type Db } from '../../src/store';
import { ConnectionLock } from '../../src/store/connection-lock';
import { runPlan, runRead, type Plan } from '../../src/store/write-plan';

// The one SQLite connection's lock (src/store/connection-lock.ts), shared by kysely and the
// ledger's own statements.

/**
 * A kysely transaction that notes `first` in `seen`, then stays open until `finish` is called,
 * and then runs `then` in it before its COMMIT.
 */
function heldOpen<T>(db: Db, first: string, then: (trx: Transaction<Database>) => Promise<T>) {
  let finish = (): void => undefined;
  const open = new Promise<void>((done) => (finish = done));
  const transaction = db.transaction().execute(async (trx) => {
    await sql`insert into seen (step) values (${first})`.execute(trx);
    await open;
    return then(trx);
  });
  return { transaction, finish: () => finish() };
}
describe('the SQLite connection lock', () => {
  it('is handed to waiters one at a time, in the order they asked', async () => {
    const lock = new ConnectionLock();
    const order: string[] = [];
    await lock.take();
    const waiters = ['a', 'b', 'c'].map((name) => lock.take().then(() => order.push(name)));
    await nextTurn();
    expect(order).toEqual([]);
    lock.release();
    await nextTurn();
    expect(order).toEqual(['a']); // b and c still wait: a holds it now
    lock.release();
    lock.release();
    await Promise.all(waiters);
    expect(order).toEqual(['a', 'b', 'c']);
    lock.release();
    // Free again: the next taker has it at once.
    let taken = false;
    void lock.take().then(() => (taken = true));
    await Promise.resolve();
    expect(taken).toBe(true);
  });

  it('a release hands the lock to the waiter, not to a caller who comes at the same moment', async () => {
    const lock = new ConnectionLock();
    const order: string[] = [];
    await lock.take();
    const waiter = lock.take().then(() => order.push('waiter'));
    lock.release();
    const late = lock.take().then(() => order.push('late'));
    await waiter;
    await nextTurn();
    expect(order).toEqual(['waiter']);
    lock.release();
    await late;
    expect(order).toEqual(['waiter', 'late']);
  });

  it('refuses a release by no holder (it would hand the lock to a second one)', () => {
    expect(() => new ConnectionLock().release()).toThrow('not held');
  });

  it('is released when the work throws', async () => {
    const lock = new ConnectionLock();
    await expect(lock.holding(() => Promise.reject(new Error('failed')))).rejects.toThrow('failed');
    await expect(lock.holding(() => Promise.resolve('next'))).resolves.toBe('next');
  });

  it('closing the database waits for a transaction under way, which commits', async () => {
    const db = await openSqliteDatabase(':memory:');
    await sql`create table seen (step text)`.execute(db);
    const { transaction, finish } = heldOpen(db, 'before the close', async (trx) => {
      // Closed under it, this would fail: the connection is not open.
      await sql`insert into seen (step) values ('after the close was asked')`.execute(trx);
    });
    await nextTurn();
    const closing = db.destroy();
    await nextTurn();
    finish();
    await expect(transaction).resolves.toBeUndefined();
    await closing;
    await expect(sql`select 1`.execute(db)).rejects.toThrow();
  });

  describe('on a database opened as the gateway opens it', () => {
    let db: Db;
    beforeAll(async () => {
      db = await openSqliteDatabase(':memory:');
      await sql`create table seen (step text)`.execute(db);
    });
    afterAll(() => db.destroy());

    function* noting(step: string): Plan<void> {
      yield { text: 'insert into seen (step) values (?)', values: [step] };
    }

    it('kysely queries and transactions and the ledger’s plans and reads take turns, in the order they came', async () => {
      // A kysely transaction holds the connection while everyone else queues behind it.
      const { transaction, finish } = heldOpen(db, 'transaction', async (trx) => {
        await sql`insert into seen (step) values ('transaction, after')`.execute(trx);
        // What the transaction sees before its COMMIT: nothing of those waiting ran inside it.
        return (await sql<{ step: string }>`select step from seen`.execute(trx)).rows.map((row) => row.step);
      });
      await nextTurn();
      const queued = [
        runPlan(db, () => noting('plan 1')),
        sql`insert into seen (step) values ('kysely query')`.execute(db),
        runRead(db, { text: "select count(*) as n from seen where step like 'transaction%'", values: [] }),
        runPlan(db, () => noting('plan 2')),
      ];
      await nextTurn();
      finish();
      expect(await transaction).toEqual(['transaction', 'transaction, after']);
      const [, , read] = await Promise.all(queued);
      // The read came after the transaction's COMMIT: it sees both its rows (run inside it, at
      // once, it would have seen the first only).
      expect(read).toEqual([{ n: 2 }]);
      const steps = await sql<{ step: string }>`select step from seen order by rowid`.execute(db);
      expect(steps.rows.map((row) => row.step)).toEqual([
        'transaction',
        'transaction, after',
        'plan 1',
        'kysely query',
        'plan 2',
      ]);
    });
  });
});
