import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, type Generated } from 'kysely';
import { migrations } from './migrations';

export interface MessagesTable {
  id: string;
  tenant_id: string;
  /** One provider call carries a batch; the batch id travels as the provider's custom_string. */
  batch_id: string;
  recipient: string;
  sender: string;
  text: string;
  segments: number;
  encoding: string;
  status: string;
  reference: string | null;
  provider_message_id: string | null;
  error: string | null;
  scheduled_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface MessageEventsTable {
  id: Generated<number>;
  message_id: string;
  status: string;
  detail: string | null;
  at: string;
}

export interface QuotaUsageTable {
  tenant_id: string;
  /** e.g. `day:2026-11-25` or `month:2026-11`, in the quota timezone. */
  period: string;
  used: number;
}

export interface DeliveryReportsTable {
  id: Generated<number>;
  provider_message_id: string;
  provider_status: string;
  /** Our message, when the report matched one; null for a message we never sent. */
  message_id: string | null;
  tenant_id: string | null;
  recipient: string | null;
  custom_string: string | null;
  received_at: string;
}

export interface RejectedCallbacksTable {
  id: Generated<number>;
  kind: string;
  reason: string;
  payload: string;
  received_at: string;
}

export interface InboundMessagesTable {
  id: string;
  provider_message_id: string;
  /** Null when no rule routed it to a tenant. */
  tenant_id: string | null;
  sender: string;
  text: string;
  received_at: string;
  /** Our message this replies to, when the provider named one we sent. */
  reply_to: string | null;
  routed_by: string;
  created_at: string;
}

export interface Database {
  messages: MessagesTable;
  message_events: MessageEventsTable;
  quota_usage: QuotaUsageTable;
  delivery_reports: DeliveryReportsTable;
  rejected_callbacks: RejectedCallbacksTable;
  inbound_messages: InboundMessagesTable;
}

export type Db = Kysely<Database>;

/**
 * Opens the embedded SQLite store (WAL, so readers never block the writer) and brings its schema
 * up to date. Queries go through kysely so the same repositories serve PostgreSQL later.
 */
export async function openSqliteDatabase(file: string): Promise<Db> {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  await migrateToLatest(db);
  return db;
}

export async function migrateToLatest(db: Db): Promise<void> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((result) => result.status === 'Error');
  if (error || failed) {
    throw new Error(`store migration ${failed?.migrationName ?? ''} failed: ${String(error)}`);
  }
}
