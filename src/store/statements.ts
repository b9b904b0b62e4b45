import type { Database as SqliteHandle, Statement } from 'better-sqlite3';
import {
  CompiledQuery,
  type Kysely,
  type PostgresPool,
  type PostgresPoolClient,
  type QueryResult,
  type SqliteDatabase,
  type Transaction,
} from 'kysely';
import type { Pool, PoolClient } from 'pg';
import type { Database } from './database';
import { isPostgres } from './dialect';

// The hot statements of the ledger, compiled once. kysely builds and compiles a query tree on
// every call (a quarter of the send path's CPU in the profiles of issue 15); the few statements a
// send runs have fixed shapes, so their SQL text is built once per shape and kept here, and the
// database keeps them prepared: better-sqlite3 statements are cached by text, and PostgreSQL gets
// named (server-side prepared) statements for a bounded set of texts.

/** At most this many distinct texts are kept prepared (per SQLite database, per PostgreSQL pool). */
const PREPARED_LIMIT = 500;

type Values = readonly unknown[];

/** Runs SQL text with its parameters in `trx` (or a database), through kysely's connection. */
export async function run<R = Record<string, unknown>>(
  trx: Kysely<Database> | Transaction<Database>,
  text: string,
  parameters: Values,
): Promise<QueryResult<R>> {
  return trx.executeQuery<R>(CompiledQuery.raw(text, [...parameters]));
}

/** `?` (SQLite) or `$1, $2 …` (PostgreSQL) placeholders, from parameter number `from` (1-based). */
export type Placeholder = (n: number) => string;
const question: Placeholder = () => '?';
const dollar: Placeholder = (n) => `$${n}`;

export function placeholderOf(db: { getExecutor(): { adapter: unknown } }): Placeholder {
  return isPostgres(db) ? dollar : question;
}

const insertTexts = new Map<string, string>();

/**
 * `insert into "table" ("a", "b") values (?, ?), (?, ?)…` for `rows` rows: the text is built once
 * per table, columns, row count and dialect, and reused (kysely would rebuild it on every call).
 */
export function insertText(
  placeholder: Placeholder,
  table: string,
  columns: readonly string[],
  rows: number,
  suffix = '',
): string {
  const key = `${placeholder === dollar ? '$' : '?'}|${table}|${columns.join(',')}|${rows}|${suffix}`;
  const cached = insertTexts.get(key);
  if (cached !== undefined) return cached;
  const tuples: string[] = [];
  let n = 0;
  for (let r = 0; r < rows; r++) {
    tuples.push(`(${columns.map(() => placeholder(++n)).join(', ')})`);
  }
  const text = `insert into "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) values ${tuples.join(', ')}${suffix}`;
  remember(insertTexts, key, text);
  return text;
}

/** Placeholders for an `in (…)` list of `count` values starting at parameter `from`. */
export function listOf(placeholder: Placeholder, from: number, count: number): string {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(placeholder(from + i));
  return out.join(', ');
}

function remember<V>(cache: Map<string, V>, key: string, value: V): void {
  if (cache.size >= PREPARED_LIMIT) {
    const oldest = cache.keys().next();
    if (!oldest.done) cache.delete(oldest.value);
  }
  cache.set(key, value);
}

/** A better-sqlite3 handle with its statements prepared once per text (preparedSqlite). */
export type PreparedSqlite = Omit<SqliteDatabase, 'prepare'> & {
  handle: SqliteHandle;
  prepare(text: string): Statement;
};

/**
 * The better-sqlite3 database as kysely's SqliteDialect sees it, with its statements prepared once
 * per text. kysely only calls `prepare` then `all`/`run` (or `iterate` for streams, which this
 * code never uses: a cached statement cannot be iterated twice at once), one query at a time; the
 * ledger's synchronous writes (write-plan.ts) share the cache.
 */
export function preparedSqlite(handle: SqliteHandle): PreparedSqlite {
  const statements = new Map<string, Statement>();
  return {
    handle,
    close: () => handle.close(),
    prepare(text: string) {
      let statement = statements.get(text);
      if (statement === undefined) {
        statement = handle.prepare(text);
        remember(statements, text, statement);
      }
      return statement;
    },
  };
}

/**
 * A pg pool as kysely's PostgresDialect sees it, sending the queries it has seen before as named
 * statements, which each connection parses and plans once. Only data statements are named, and
 * not `select *` ones (a column added by a later migration would change their result type).
 */
export function preparedPostgres(pool: Pool): PostgresPool & { enable(): void } {
  const names = new Map<string, string>();
  let next = 0;
  // Off until the migrations have run: a statement planned before a table changes would fail.
  let enabled = false;
  const nameOf = (text: string): string | undefined => {
    if (!enabled) return undefined;
    const known = names.get(text);
    if (known !== undefined) return known;
    if (names.size >= PREPARED_LIMIT || !/^\s*(select|insert|update|delete|with)\b/i.test(text)) {
      return undefined;
    }
    if (/select\s+\*/i.test(text)) return undefined;
    const name = `smsgate_${++next}`;
    names.set(text, name);
    return name;
  };
  const wrap = (client: PoolClient): PostgresPoolClient => ({
    // kysely passes SQL text and values (it never passes a cursor: this code does not stream).
    query: ((text: string, values: unknown[]) => {
      const name = nameOf(text);
      return name === undefined ? client.query(text, values) : client.query({ name, text, values });
    }) as unknown as PostgresPoolClient['query'],
    release: (destroy?: boolean) => client.release(destroy),
  });
  return {
    connect: async () => wrap(await pool.connect()),
    end: () => pool.end(),
    enable: () => {
      enabled = true;
    },
  };
}
