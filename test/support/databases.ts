import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { openPostgresDatabase, openSqliteDatabase, type Db } from '../../src/store';

/** The project machines' PostgreSQL (trust auth, database `test`); CI starts it when it is not running. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestStore {
  db: Db;
  /** For PostgreSQL: the URL of this store's own schema (to open more connections to it). */
  url?: string;
  drop(): Promise<void>;
}

/** A fresh schema in the test database: test files (and their replicas) never see each other's rows. */
export async function createPostgresSchema(): Promise<{ url: string; drop: () => Promise<void> }> {
  const schema = `smsgate_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
  await admin.query(`create schema ${schema}`);
  const url = `${TEST_DATABASE_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  return {
    url,
    drop: async () => {
      await admin.query(`drop schema ${schema} cascade`);
      await admin.end();
    },
  };
}

export const DIALECTS = ['sqlite', 'postgres'] as const;
export type Dialect = (typeof DIALECTS)[number];

export async function openTestStore(dialect: Dialect): Promise<TestStore> {
  if (dialect === 'sqlite') {
    const db = await openSqliteDatabase(':memory:');
    return { db, drop: () => db.destroy() };
  }
  const schema = await createPostgresSchema();
  const db = await openPostgresDatabase(schema.url);
  return {
    db,
    url: schema.url,
    drop: async () => {
      await db.destroy();
      await schema.drop();
    },
  };
}
