import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, sql, type Generated } from 'kysely';
import { ConnectionLock, LockedSqliteDialect } from './connection-lock';
import { isPostgres } from './dialect';
import { migrations } from './migrations';
import { preparedPostgres, preparedSqlite, type PreparedSqlite } from './statements';
import { registerSqlite } from './write-plan';

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
  /** The message's place in its tenant's ledger: 1, 2, 3 … in commit order (lists page by it). */
  tenant_seq: number | null;
  /** The sending token's `sub` (an end user inside the tenant); null when it had none. */
  subject: string | null;
  /** `marketing` or `transactional`; null for messages sent before purposes existed. */
  purpose?: string | null;
}

/** Each tenant's number of messages, kept with every insert (the page block's count). */
export interface TenantMessageCountsTable {
  tenant_id: string;
  messages: number;
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
  /** `reply`, `keyword`, `default`, `operator` (assigned by an admin), `held` or `none` (no tenant yet). */
  routed_by: string;
  created_at: string;
  /** The provider's id of the message it replies to, and the custom_string it echoed (our batch id). */
  original_message_id: string | null;
  custom_string: string | null;
  /** A reply's owner: the subject of the message it replies to (null for texts that are no reply). */
  subject: string | null;
}

/** What happened for a tenant, in order: the source for webhooks and for SSE replay. */
export interface EventsTable {
  /** Increasing: the SSE `id:` and the Last-Event-ID a client resumes from. */
  id: Generated<number>;
  /** The Standard Webhooks `webhook-id`, the same on every attempt. */
  event_id: string;
  tenant_id: string;
  type: string;
  /** The JSON body exactly as delivered (signatures are over these bytes). */
  payload: string;
  created_at: string;
  /** Whose event: the subject of the message it is about (null: no end user). */
  subject: string | null;
}

/** The outbox: one row per event for a tenant with a webhook, written with the event. */
export interface WebhookDeliveriesTable {
  id: Generated<number>;
  event_id: string;
  tenant_id: string;
  /** pending → done, or dead (retries exhausted, or the endpoint answered 410). */
  state: string;
  attempts: number;
  next_attempt_at: string;
  /** A worker holds the row until then; an expired lease (a crashed worker) frees it again. */
  lease_until: string | null;
  last_status: number | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
}

/** Endpoints that answered 410 Gone: nothing more is sent to them until an admin re-enables them. */
export interface WebhookEndpointsTable {
  tenant_id: string;
  url: string;
  disabled_at: string;
  reason: string;
}

/** Single-use tickets for EventSource, which cannot send an Authorization header. */
export interface EventTicketsTable {
  /** sha256 of the ticket: the ticket itself is never stored. */
  ticket_hash: string;
  tenant_id: string;
  expires_at: string;
  used_at: string | null;
  /** What the stream it opens may show: the issuing token's subject, and 1 for the whole tenant. */
  subject: string | null;
  read_all: number;
}

export interface FormRepliesTable {
  form_id: string;
  recipient: string;
  /** e.g. `day:2026-11-25`, in the quota timezone. */
  day: string;
  created_at: string;
}

/** A request made with an Idempotency-Key: claimed before the work, its answer kept for replays. */
export interface IdempotencyKeysTable {
  /** The tenant (or `form:<id>`): keys never collide across tenants. */
  scope: string;
  key: string;
  /** sha256 of method, path and body. */
  fingerprint: string;
  /** in_flight → done */
  state: string;
  status_code: number | null;
  /** The response body exactly as first sent. */
  response: string | null;
  created_at: string;
  expires_at: string;
}

/** A durable asynchronous send (`Prefer: respond-async`): written with its messages, drained by a worker. */
export interface SendJobsTable {
  id: Generated<number>;
  /** The batch's messages are the ones this job sends. */
  batch_id: string;
  tenant_id: string;
  /** The provider request (text, numbers, sender, custom_string, schedule) as JSON. */
  request: string;
  /**
   * pending → sending (stored *before* each provider call) → done; back to pending only after a
   * failure that proves nothing was sent. A job found `sending` after a crash is never resent.
   */
  state: string;
  attempts: number;
  next_attempt_at: string;
  lease_until: string | null;
  /** After this, a job still not sent ends `expired`. */
  expires_at: string;
  last_error: string | null;
  created_at: string;
  updated_at: string;
}

/** The console's counters per tenant and minute (or hour, once compacted). */
export interface UsageRollupsTable {
  tenant_id: string;
  /** `YYYY-MM-DDTHH:MM` (UTC); an hourly row's is `YYYY-MM-DDTHH:00`. */
  bucket: string;
  /** `m` (per minute) or `h` (per hour). */
  granularity: string;
  metric: string;
  value: number;
}

/** A number that must not get marketing texts: per tenant, or account-wide (`scope` '*'). */
export interface SuppressionsTable {
  scope: string;
  number: string;
  /** `reply` (an opt-out keyword), `admin` or `provider` (its own opt-out list). */
  source: string;
  reason: string | null;
  created_at: string;
}

export interface OptoutAcksTable {
  tenant_id: string;
  number: string;
  day: string;
  created_at: string;
}

/** The provider balance as last read (one row, id `account`). */
export interface AccountStateTable {
  id: string;
  sms_balance: number | null;
  mms_balance: number | null;
  checked_at: string | null;
  /** 1 once the balance went below the threshold (announced), 0 again after a top-up. */
  low: number;
  /** The balance the provider's own low-credit alert stated, when it last sent one. */
  alert_balance: number | null;
}

/**
 * One verification request: a code sent (its keyed hash kept, never the code), or a request
 * refused by the pumping limits (no code), kept so the limits can count requests per range.
 */
export interface VerificationsTable {
  id: string;
  tenant_id: string;
  recipient: string;
  /** ISO country of the number, and its range: `+` country code and the first digits after it. */
  country: string;
  number_range: string;
  client_ip: string | null;
  /** HMAC-SHA256 (verification.secret) of the id and the code, hex; null when refused. */
  code_hash: string | null;
  /** pending → approved | expired | locked | canceled; failed (not sent); refused (no code). */
  status: string;
  checks: number;
  /** Why it was refused (cooldown, number, range, country, ip, fraud). */
  refusal: string | null;
  created_at: string;
  expires_at: string;
  updated_at: string;
}

/** A range flagged as suspected SMS pumping: refused for an hour from created_at. */
export interface VerificationAlertsTable {
  tenant_id: string;
  number_range: string;
  created_at: string;
}

export interface Database {
  messages: MessagesTable;
  message_events: MessageEventsTable;
  quota_usage: QuotaUsageTable;
  delivery_reports: DeliveryReportsTable;
  rejected_callbacks: RejectedCallbacksTable;
  inbound_messages: InboundMessagesTable;
  events: EventsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_endpoints: WebhookEndpointsTable;
  event_tickets: EventTicketsTable;
  form_replies: FormRepliesTable;
  idempotency_keys: IdempotencyKeysTable;
  send_jobs: SendJobsTable;
  tenant_message_counts: TenantMessageCountsTable;
  usage_rollups: UsageRollupsTable;
  suppressions: SuppressionsTable;
  optout_acks: OptoutAcksTable;
  account_state: AccountStateTable;
  verifications: VerificationsTable;
  verification_alerts: VerificationAlertsTable;
}

export type Db = Kysely<Database>;

export interface StoreSettings {
  sqliteFile: string;
  /** postgres://… (DATABASE_URL): cluster mode; the SQLite file is then unused. */
  databaseUrl?: string | undefined;
}

/** Opens the store the settings name, migrated to the latest schema. */
export async function openDatabase(settings: StoreSettings): Promise<Db> {
  return settings.databaseUrl
    ? openPostgresDatabase(settings.databaseUrl)
    : openSqliteDatabase(settings.sqliteFile);
}

/**
 * Opens PostgreSQL (several replicas share it). Migrations take kysely's migration lock, so
 * replicas starting together migrate once. int8 values (counts, bigserial ids) arrive as numbers
 * (the type parser below).
 */
export async function openPostgresDatabase(url: string): Promise<Db> {
  // Loaded here, not at start-up: the embedded default (SQLite) never needs the driver.
  const { default: pg } = await import('pg');
  // int8 (bigserial ids, count(*)) as JavaScript numbers: our ids and counts stay far below 2^53.
  pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 5_000 });
  pool.on('error', () => undefined); // an idle client's broken connection is replaced on next use
  const prepared = preparedPostgres(pool);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: prepared }) });
  await migrateToLatest(db);
  prepared.enable();
  return db;
}

/**
 * WAL pages after which a COMMIT checkpoints (copies the WAL back into the database file), in
 * place of SQLite's 1,000. better-sqlite3 is synchronous, so the COMMIT that checkpoints holds the
 * event loop for the whole copy, and every request that arrives meanwhile waits. With 250, a
 * send's writes hold the loop half as long at p99 (2.5-2.8 ms against 5.5-5.6 one send at a time,
 * as at 200 sends/s; 4.3-4.7 against 9.2-9.6 in groups of 32, as under full load), and 1-3 of
 * 4,000 sends hold it over 5 ms instead of 65. A page rewritten between two checkpoints is copied
 * at each, so checkpoints cost more in all: 14-18 % more ledger time one send at a time, no
 * difference beyond noise in groups of 32 (`npm run bench:checkpoint`; docs/benchmarks.md,
 * "Fourteenth round"). 100 pages held the loop less still, but cost 40-50 % more one send at a
 * time. A worker thread with its own connection could checkpoint off the loop, but costs ~10 MB
 * of resident memory, which the memory goal (< 120 MB at 200 sends/s) cannot spare.
 */
export const WAL_CHECKPOINT_PAGES = 250;

/**
 * Opens the embedded SQLite store (WAL, so readers never block the writer) and brings its schema
 * up to date. Queries go through kysely so the same repositories serve PostgreSQL later.
 */
export async function openSqliteDatabase(file: string): Promise<Db> {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma(`wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const db = kyselyOnSqlite(preparedSqlite(sqlite));
  await migrateToLatest(db);
  return db;
}

/**
 * kysely over a prepared better-sqlite3 handle. The ledger's hot writes run on the handle itself,
 * synchronously (write-plan.ts), under the lock kysely's driver takes for the connection, so
 * neither ever runs inside the other's transaction.
 */
export function kyselyOnSqlite(database: PreparedSqlite): Db {
  const lock = new ConnectionLock();
  const db = new Kysely<Database>({ dialect: new LockedSqliteDialect({ database }, lock) });
  registerSqlite(db, { ...database, lock });
  return db;
}

export async function migrateToLatest(db: Db): Promise<void> {
  // On PostgreSQL, kysely looks for its migration tables in any schema unless told which: with
  // another schema on the server holding them (another deployment, or parallel test runs), it
  // would skip creating its own. So: the schema this connection writes to.
  const schema = isPostgres(db)
    ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema
    : undefined;
  const migrator = new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve(migrations) },
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((result) => result.status === 'Error');
  if (error || failed) {
    throw new Error(`store migration ${failed?.migrationName ?? ''} failed: ${String(error)}`);
  }
}
