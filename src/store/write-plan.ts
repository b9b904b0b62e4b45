import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Database as SqliteHandle, Statement } from 'better-sqlite3';
import type { Transaction } from 'kysely';
import type { Database, Db } from './database';
import type { ConnectionLock } from './connection-lock';
import { isPostgres } from './dialect';
import { placeholderOf, run, type Placeholder } from './statements';

// The hot writes of the ledger as plans: a generator that yields each statement (SQL text and
// values) and is handed back its rows. The same plan runs two ways:
// - on SQLite, synchronously on the better-sqlite3 handle with its statements prepared once, in
//   one transaction, without a promise per statement (better-sqlite3 is synchronous; kysely's
//   chain of promises and its query building cost more than SQLite's own work here);
// - on PostgreSQL (or a SQLite database opened without openSqliteDatabase), statement by
//   statement through a kysely transaction, as before.

export type Row = Record<string, unknown>;

/** One statement of a plan. `values` are bound in order. */
export interface Step {
  text: string;
  values: readonly unknown[];
  /** About how many rows it writes (1 if absent): what the SQLite driver counts to yield. */
  rows?: number;
}

/** A write: yields statements, gets each one's rows back (empty for statements without RETURNING). */
export type Plan<R> = Generator<Step, R, Row[]>;

/** What a plan needs to know about the database it is written for. */
export interface PlanDialect {
  placeholder: Placeholder;
  postgres: boolean;
}

/**
 * Rows written after which the SQLite driver lets the event loop turn before the next statement
 * (the transaction stays open; other queries wait for it, as they wait for any transaction). 200
 * rows (one multi-row statement) take about 1-2 ms on this project's machine, so 1,000 rows hold
 * the loop about 5-16 ms. A count, not a clock: a run yields at the same places every time.
 *
 * Why not fewer: while the transaction is open, every other query of the process (a quota
 * reservation, another send's insert) waits for it, and each yield costs the transaction a whole
 * turn of a busy event loop. At 200 rows, a 1,000-recipient send's insert (2,000 rows with its
 * events) took ten turns, 80-340 ms at the start of a burst, and the sends behind it reached the
 * upstream budget later than its pace let them out (docs/benchmarks.md, "Tenth round").
 */
export const YIELD_AFTER_ROWS = 1000;

/**
 * The better-sqlite3 handle behind a Db, with its statement cache and the lock its one connection
 * is held under, by kysely and by the plans here alike (set by openSqliteDatabase).
 */
export interface SqliteAccess {
  handle: SqliteHandle;
  prepare(text: string): Statement;
  lock: ConnectionLock;
}

const sqliteHandles = new WeakMap<Db, SqliteAccess>();

export function registerSqlite(db: Db, access: SqliteAccess): void {
  sqliteHandles.set(db, access);
}

export function dialectOf(db: Db | Transaction<Database>): PlanDialect {
  const postgres = isPostgres(db);
  return { placeholder: placeholderOf(db), postgres };
}

const NO_ROWS: Row[] = [];

/** Runs a plan in a transaction of its own and returns its result; nothing of it is kept if it throws. */
export async function runPlan<R>(db: Db, plan: (dialect: PlanDialect) => Plan<R>): Promise<R> {
  const sqlite = sqliteHandles.get(db);
  if (sqlite === undefined) return db.transaction().execute((trx) => runPlanIn(trx, plan(dialectOf(trx))));
  // One connection, one lock (connection-lock.ts): holding it keeps every kysely query, and every
  // kysely transaction, out of this one: a better-sqlite3 BEGIN while a kysely transaction is
  // open would join it (better-sqlite3 runs on the same handle).
  return sqlite.lock.holding(() => runSqlite(sqlite, plan(SQLITE)));
}

/**
 * Runs one read on the hot path (a statement of fixed shape): on SQLite synchronously on the
 * handle, prepared once, under the connection's lock (so it never reads inside another
 * caller's open transaction); elsewhere through kysely's executor, without a transaction. Cheaper
 * than a kysely query, which builds and compiles its tree on every call.
 */
export async function runRead(db: Db, step: Step): Promise<Row[]> {
  const sqlite = sqliteHandles.get(db);
  if (sqlite === undefined) return (await run<Row>(db, step.text, step.values)).rows;
  return sqlite.lock.holding(() => Promise.resolve(sqlite.prepare(step.text).all(...step.values) as Row[]));
}

/** Runs a plan inside a kysely transaction the caller holds (other repositories' transactions). */
export async function runPlanIn<R>(trx: Transaction<Database>, plan: Plan<R>): Promise<R> {
  let rows = NO_ROWS;
  for (;;) {
    const next = plan.next(rows);
    if (next.done) return next.value;
    rows = (await run(trx, next.value.text, next.value.values)).rows;
  }
}

const SQLITE: PlanDialect = { placeholder: () => '?', postgres: false };

/**
 * Rows in all from which a transaction's COMMIT has a turn of the event loop of its own: one
 * before it (unless the transaction just yielded) and one after it, before the connection is free.
 * Its COMMIT may checkpoint the WAL (pages written back and fsync'd, about 6-10 µs a page on this
 * project's machine): SQLite does so at whichever COMMIT takes the WAL past WAL_CHECKPOINT_PAGES
 * (database.ts), most often one that wrote many. Without the turn before, the COMMIT shared a turn
 * with the last stretch of writes; without the turn after, with the first stretch of the next
 * transaction, which was waiting for the connection. Through the 1,000-recipient mix, every COMMIT over 6 ms was one of a
 * transaction of 2,000 rows (docs/benchmarks.md, "Tenth round"). 200: a group of one-recipient
 * sends (at most 64 sends, two or three rows each) stays under it and commits in its turn.
 */
export const OWN_TURN_COMMIT_ROWS = 200;

/** Runs a plan in one transaction on the handle (see YIELD_AFTER_ROWS and OWN_TURN_COMMIT_ROWS). */
async function runSqlite<R>(sqlite: SqliteAccess, plan: Plan<R>): Promise<R> {
  const { value, rows } = await writeInTransaction(sqlite, plan);
  if (rows >= OWN_TURN_COMMIT_ROWS) await nextTurn();
  return value;
}

async function writeInTransaction<R>(
  sqlite: SqliteAccess,
  plan: Plan<R>,
): Promise<{ value: R; rows: number }> {
  const prepare = (text: string): Statement => sqlite.prepare(text);
  prepare('begin').run();
  try {
    let rows = NO_ROWS;
    let total = 0;
    let sinceTurn = 0;
    for (;;) {
      const next = plan.next(rows);
      if (next.done) {
        if (sinceTurn > 0 && total >= OWN_TURN_COMMIT_ROWS) await nextTurn();
        prepare('commit').run();
        return { value: next.value, rows: total };
      }
      const statement = prepare(next.value.text);
      if (statement.reader) {
        rows = statement.all(...next.value.values) as Row[];
      } else {
        statement.run(...next.value.values);
        rows = NO_ROWS;
      }
      const written = next.value.rows ?? 1;
      total += written;
      sinceTurn += written;
      if (sinceTurn >= YIELD_AFTER_ROWS) {
        sinceTurn = 0;
        await nextTurn();
      }
    }
  } catch (error) {
    // A failed COMMIT may already have ended the transaction (SQLite rolls back on some errors).
    if (sqlite.handle.inTransaction) prepare('rollback').run();
    throw error;
  }
}
