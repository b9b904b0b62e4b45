import { sql, type ColumnDefinitionBuilder, type Kysely, type Migration } from 'kysely';
import { isPostgres } from './dialect';

// Migrations are code, kept portable between SQLite and PostgreSQL: text timestamps in ISO 8601
// UTC (they sort correctly as text); the one dialect difference, auto-increment keys, is below.

/** An auto-increment primary key: bigserial on PostgreSQL, INTEGER PRIMARY KEY AUTOINCREMENT on SQLite. */
function serialKey(
  db: Kysely<unknown>,
): ['bigserial' | 'integer', (col: ColumnDefinitionBuilder) => ColumnDefinitionBuilder] {
  return isPostgres(db)
    ? ['bigserial', (col) => col.primaryKey()]
    : ['integer', (col) => col.primaryKey().autoIncrement()];
}

export const migrations: Record<string, Migration> = {
  '0001_messages': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('messages')
        .addColumn('id', 'varchar(40)', (col) => col.primaryKey())
        .addColumn('tenant_id', 'varchar(64)', (col) => col.notNull())
        .addColumn('batch_id', 'varchar(40)', (col) => col.notNull())
        .addColumn('recipient', 'varchar(20)', (col) => col.notNull())
        .addColumn('sender', 'varchar(20)', (col) => col.notNull())
        .addColumn('text', 'text', (col) => col.notNull())
        .addColumn('segments', 'integer', (col) => col.notNull())
        .addColumn('encoding', 'varchar(10)', (col) => col.notNull())
        .addColumn('status', 'varchar(20)', (col) => col.notNull())
        .addColumn('reference', 'varchar(128)')
        .addColumn('provider_message_id', 'varchar(64)')
        .addColumn('error', 'text')
        .addColumn('scheduled_at', 'varchar(32)')
        .addColumn('created_at', 'varchar(32)', (col) => col.notNull())
        .addColumn('updated_at', 'varchar(32)', (col) => col.notNull())
        .execute();
      await db.schema
        .createIndex('messages_tenant_created')
        .on('messages')
        .columns(['tenant_id', 'created_at', 'id'])
        .execute();
      await db.schema
        .createIndex('messages_provider_id')
        .on('messages')
        .column('provider_message_id')
        .execute();
      await db.schema.createIndex('messages_batch').on('messages').column('batch_id').execute();

      await db.schema
        .createTable('message_events')
        .addColumn('id', ...serialKey(db))
        .addColumn('message_id', 'varchar(40)', (col) => col.notNull().references('messages.id'))
        .addColumn('status', 'varchar(20)', (col) => col.notNull())
        .addColumn('detail', 'text')
        .addColumn('at', 'varchar(32)', (col) => col.notNull())
        .execute();
      await db.schema
        .createIndex('message_events_message')
        .on('message_events')
        .column('message_id')
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await sql`drop table message_events`.execute(db);
      await sql`drop table messages`.execute(db);
    },
  },
  '0002_quota_usage': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('quota_usage')
        .addColumn('tenant_id', 'varchar(64)', (col) => col.notNull())
        .addColumn('period', 'varchar(24)', (col) => col.notNull())
        .addColumn('used', 'integer', (col) => col.notNull().defaultTo(0))
        .addPrimaryKeyConstraint('quota_usage_pk', ['tenant_id', 'period'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await sql`drop table quota_usage`.execute(db);
    },
  },
  '0003_delivery_reports': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('delivery_reports')
        .addColumn('id', ...serialKey(db))
        .addColumn('provider_message_id', 'varchar(64)', (col) => col.notNull())
        .addColumn('provider_status', 'varchar(20)', (col) => col.notNull())
        .addColumn('message_id', 'varchar(40)')
        .addColumn('tenant_id', 'varchar(64)')
        .addColumn('recipient', 'varchar(20)')
        .addColumn('custom_string', 'varchar(64)')
        .addColumn('received_at', 'varchar(32)', (col) => col.notNull())
        .execute();
      // A report is stored once per (message, status): the provider's retries are idempotent.
      await db.schema
        .createIndex('delivery_reports_once')
        .on('delivery_reports')
        .columns(['provider_message_id', 'provider_status'])
        .unique()
        .execute();
      await db.schema
        .createTable('rejected_callbacks')
        .addColumn('id', ...serialKey(db))
        .addColumn('kind', 'varchar(20)', (col) => col.notNull())
        .addColumn('reason', 'text', (col) => col.notNull())
        .addColumn('payload', 'text', (col) => col.notNull())
        .addColumn('received_at', 'varchar(32)', (col) => col.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await sql`drop table rejected_callbacks`.execute(db);
      await sql`drop table delivery_reports`.execute(db);
    },
  },
  '0004_inbound_messages': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('inbound_messages')
        .addColumn('id', 'varchar(40)', (col) => col.primaryKey())
        .addColumn('provider_message_id', 'varchar(64)', (col) => col.notNull().unique())
        .addColumn('tenant_id', 'varchar(64)')
        .addColumn('sender', 'varchar(20)', (col) => col.notNull())
        .addColumn('text', 'text', (col) => col.notNull())
        .addColumn('received_at', 'varchar(32)', (col) => col.notNull())
        .addColumn('reply_to', 'varchar(40)')
        .addColumn('routed_by', 'varchar(10)', (col) => col.notNull())
        .addColumn('created_at', 'varchar(32)', (col) => col.notNull())
        .execute();
      await db.schema
        .createIndex('inbound_tenant_created')
        .on('inbound_messages')
        .columns(['tenant_id', 'created_at', 'id'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await sql`drop table inbound_messages`.execute(db);
    },
  },
  '0005_events_outbox': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('events')
        .addColumn('id', ...serialKey(db))
        .addColumn('event_id', 'varchar(40)', (col) => col.notNull().unique())
        .addColumn('tenant_id', 'varchar(64)', (col) => col.notNull())
        .addColumn('type', 'varchar(40)', (col) => col.notNull())
        .addColumn('payload', 'text', (col) => col.notNull())
        .addColumn('created_at', 'varchar(32)', (col) => col.notNull())
        .execute();
      await db.schema.createIndex('events_tenant_id').on('events').columns(['tenant_id', 'id']).execute();
      await db.schema
        .createTable('webhook_deliveries')
        .addColumn('id', ...serialKey(db))
        .addColumn('event_id', 'varchar(40)', (col) => col.notNull().references('events.event_id'))
        .addColumn('tenant_id', 'varchar(64)', (col) => col.notNull())
        .addColumn('state', 'varchar(10)', (col) => col.notNull())
        .addColumn('attempts', 'integer', (col) => col.notNull().defaultTo(0))
        .addColumn('next_attempt_at', 'varchar(32)', (col) => col.notNull())
        .addColumn('lease_until', 'varchar(32)')
        .addColumn('last_status', 'integer')
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'varchar(32)', (col) => col.notNull())
        .addColumn('updated_at', 'varchar(32)', (col) => col.notNull())
        .execute();
      await db.schema
        .createIndex('webhook_deliveries_due')
        .on('webhook_deliveries')
        .columns(['state', 'next_attempt_at'])
        .execute();
      await db.schema
        .createTable('webhook_endpoints')
        .addColumn('tenant_id', 'varchar(64)', (col) => col.notNull())
        .addColumn('url', 'text', (col) => col.notNull())
        .addColumn('disabled_at', 'varchar(32)', (col) => col.notNull())
        .addColumn('reason', 'text', (col) => col.notNull())
        .addPrimaryKeyConstraint('webhook_endpoints_pk', ['tenant_id', 'url'])
        .execute();
      await db.schema
        .createTable('event_tickets')
        .addColumn('ticket_hash', 'varchar(64)', (col) => col.primaryKey())
        .addColumn('tenant_id', 'varchar(64)', (col) => col.notNull())
        .addColumn('expires_at', 'varchar(32)', (col) => col.notNull())
        .addColumn('used_at', 'varchar(32)')
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await sql`drop table event_tickets`.execute(db);
      await sql`drop table webhook_endpoints`.execute(db);
      await sql`drop table webhook_deliveries`.execute(db);
      await sql`drop table events`.execute(db);
    },
  },
  '0006_form_replies': {
    async up(db: Kysely<unknown>) {
      // One confirmation SMS per form, number and day: the primary key is the limit.
      await db.schema
        .createTable('form_replies')
        .addColumn('form_id', 'varchar(64)', (col) => col.notNull())
        .addColumn('recipient', 'varchar(20)', (col) => col.notNull())
        .addColumn('day', 'varchar(16)', (col) => col.notNull())
        .addColumn('created_at', 'varchar(32)', (col) => col.notNull())
        .addPrimaryKeyConstraint('form_replies_pk', ['form_id', 'recipient', 'day'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await sql`drop table form_replies`.execute(db);
    },
  },
  '0007_idempotency_keys': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('idempotency_keys')
        .addColumn('scope', 'varchar(80)', (col) => col.notNull())
        .addColumn('key', 'varchar(255)', (col) => col.notNull())
        .addColumn('fingerprint', 'varchar(64)', (col) => col.notNull())
        .addColumn('state', 'varchar(10)', (col) => col.notNull())
        .addColumn('status_code', 'integer')
        .addColumn('response', 'text')
        .addColumn('created_at', 'varchar(32)', (col) => col.notNull())
        .addColumn('expires_at', 'varchar(32)', (col) => col.notNull())
        .addPrimaryKeyConstraint('idempotency_keys_pk', ['scope', 'key'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await sql`drop table idempotency_keys`.execute(db);
    },
  },
  '0008_send_jobs': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('send_jobs')
        .addColumn('id', ...serialKey(db))
        .addColumn('batch_id', 'varchar(40)', (col) => col.notNull().unique())
        .addColumn('tenant_id', 'varchar(64)', (col) => col.notNull())
        .addColumn('request', 'text', (col) => col.notNull())
        .addColumn('state', 'varchar(10)', (col) => col.notNull())
        .addColumn('attempts', 'integer', (col) => col.notNull().defaultTo(0))
        .addColumn('next_attempt_at', 'varchar(32)', (col) => col.notNull())
        .addColumn('lease_until', 'varchar(32)')
        .addColumn('expires_at', 'varchar(32)', (col) => col.notNull())
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'varchar(32)', (col) => col.notNull())
        .addColumn('updated_at', 'varchar(32)', (col) => col.notNull())
        .execute();
      await db.schema
        .createIndex('send_jobs_due')
        .on('send_jobs')
        .columns(['state', 'next_attempt_at'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await sql`drop table send_jobs`.execute(db);
    },
  },
  '0009_ledger_reconciliation': {
    async up(db: Kysely<unknown>) {
      // What a reply named, kept so an operator can place one the gateway could not.
      await db.schema
        .alterTable('inbound_messages')
        .addColumn('original_message_id', 'varchar(64)')
        .execute();
      await db.schema.alterTable('inbound_messages').addColumn('custom_string', 'varchar(64)').execute();
      // Operators list messages by status (e.g. the ones still `unknown`) across tenants.
      await db.schema
        .createIndex('messages_status_created')
        .on('messages')
        .columns(['status', 'created_at', 'id'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex('messages_status_created').execute();
      await db.schema.alterTable('inbound_messages').dropColumn('custom_string').execute();
      await db.schema.alterTable('inbound_messages').dropColumn('original_message_id').execute();
    },
  },
  '0010_idempotency_expiry_index': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createIndex('idempotency_keys_expires_at')
        .on('idempotency_keys')
        .column('expires_at')
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex('idempotency_keys_expires_at').execute();
    },
  },
  '0011_subjects': {
    async up(db: Kysely<unknown>) {
      // End users inside a tenant: who sent each message, whose each reply and event is, and what a
      // stream ticket may show. Rows from before have no subject (a token without `sub` owns them).
      await db.schema.alterTable('messages').addColumn('subject', 'varchar(255)').execute();
      await db.schema.alterTable('inbound_messages').addColumn('subject', 'varchar(255)').execute();
      await db.schema.alterTable('events').addColumn('subject', 'varchar(255)').execute();
      await db.schema.alterTable('event_tickets').addColumn('subject', 'varchar(255)').execute();
      await db.schema
        .alterTable('event_tickets')
        .addColumn('read_all', 'integer', (col) => col.notNull().defaultTo(0))
        .execute();
      await db.schema
        .createIndex('events_tenant_subject_id')
        .on('events')
        .columns(['tenant_id', 'subject', 'id'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex('events_tenant_subject_id').execute();
      await db.schema.alterTable('event_tickets').dropColumn('read_all').execute();
      await db.schema.alterTable('event_tickets').dropColumn('subject').execute();
      await db.schema.alterTable('events').dropColumn('subject').execute();
      await db.schema.alterTable('inbound_messages').dropColumn('subject').execute();
      await db.schema.alterTable('messages').dropColumn('subject').execute();
    },
  },
  '0012_optouts_and_spend': {
    async up(db: Kysely<unknown>) {
      // One row per list and number: `scope` is a tenant id, or '*' for the whole account.
      await db.schema
        .createTable('suppressions')
        .addColumn('scope', 'varchar(64)', (col) => col.notNull())
        .addColumn('number', 'varchar(20)', (col) => col.notNull())
        .addColumn('source', 'varchar(10)', (col) => col.notNull())
        .addColumn('reason', 'text')
        .addColumn('created_at', 'varchar(32)', (col) => col.notNull())
        .addPrimaryKeyConstraint('suppressions_pk', ['scope', 'number'])
        .execute();
      await db.schema.createIndex('suppressions_number').on('suppressions').column('number').execute();
      // One acknowledgement per tenant, number and day: the primary key is the limit.
      await db.schema
        .createTable('optout_acks')
        .addColumn('tenant_id', 'varchar(64)', (col) => col.notNull())
        .addColumn('number', 'varchar(20)', (col) => col.notNull())
        .addColumn('day', 'varchar(16)', (col) => col.notNull())
        .addColumn('created_at', 'varchar(32)', (col) => col.notNull())
        .addPrimaryKeyConstraint('optout_acks_pk', ['tenant_id', 'number', 'day'])
        .execute();
      // The provider balance as last read, shared by replicas so a low balance is announced once.
      await db.schema
        .createTable('account_state')
        .addColumn('id', 'varchar(20)', (col) => col.primaryKey())
        .addColumn('sms_balance', 'double precision')
        .addColumn('mms_balance', 'double precision')
        .addColumn('checked_at', 'varchar(32)')
        .addColumn('low', 'integer', (col) => col.notNull().defaultTo(0))
        .addColumn('alert_balance', 'double precision')
        .execute();
      await db.schema.alterTable('messages').addColumn('purpose', 'varchar(16)').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('messages').dropColumn('purpose').execute();
      await sql`drop table account_state`.execute(db);
      await sql`drop table optout_acks`.execute(db);
      await sql`drop table suppressions`.execute(db);
    },
  },
  '0013_verifications': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('verifications')
        .addColumn('id', 'varchar(40)', (col) => col.primaryKey())
        .addColumn('tenant_id', 'varchar(64)', (col) => col.notNull())
        .addColumn('recipient', 'varchar(20)', (col) => col.notNull())
        .addColumn('country', 'varchar(2)', (col) => col.notNull())
        .addColumn('number_range', 'varchar(20)', (col) => col.notNull())
        .addColumn('client_ip', 'varchar(64)')
        .addColumn('code_hash', 'varchar(64)')
        .addColumn('status', 'varchar(12)', (col) => col.notNull())
        .addColumn('checks', 'integer', (col) => col.notNull().defaultTo(0))
        .addColumn('refusal', 'varchar(20)')
        .addColumn('created_at', 'varchar(32)', (col) => col.notNull())
        .addColumn('expires_at', 'varchar(32)', (col) => col.notNull())
        .addColumn('updated_at', 'varchar(32)', (col) => col.notNull())
        .execute();
      // The hourly counts: per number, per range, per country (each per tenant) and per client IP.
      for (const column of ['recipient', 'number_range', 'country'] as const) {
        await db.schema
          .createIndex(`verifications_${column}`)
          .on('verifications')
          .columns(['tenant_id', column, 'created_at'])
          .execute();
      }
      await db.schema
        .createIndex('verifications_ip')
        .on('verifications')
        .columns(['client_ip', 'created_at'])
        .execute();
      await db.schema
        .createIndex('verifications_due')
        .on('verifications')
        .columns(['status', 'expires_at'])
        .execute();
      await db.schema
        .createTable('verification_alerts')
        .addColumn('tenant_id', 'varchar(64)', (col) => col.notNull())
        .addColumn('number_range', 'varchar(20)', (col) => col.notNull())
        .addColumn('created_at', 'varchar(32)', (col) => col.notNull())
        .addPrimaryKeyConstraint('verification_alerts_pk', ['tenant_id', 'number_range', 'created_at'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await sql`drop table verification_alerts`.execute(db);
      await sql`drop table verifications`.execute(db);
    },
  },
  '0014_ledger_counters': {
    async up(db: Kysely<unknown>) {
      // Each tenant's message count, kept in the transaction that inserts messages (no COUNT(*) for
      // the page block), and each message's place in its tenant's ledger (1, 2, 3 … in commit
      // order): page N of a list is then a seek on (tenant_id, tenant_seq), however deep.
      await db.schema
        .createTable('tenant_message_counts')
        .addColumn('tenant_id', 'varchar(64)', (col) => col.primaryKey())
        .addColumn('messages', 'bigint', (col) => col.notNull())
        .execute();
      await db.schema.alterTable('messages').addColumn('tenant_seq', 'bigint').execute();
      // Messages already stored are numbered in the order the lists showed them (oldest first).
      await sql`update messages set tenant_seq = numbered.n
        from (select id, row_number() over (partition by tenant_id order by created_at, id) as n
              from messages) as numbered
        where messages.id = numbered.id`.execute(db);
      await sql`insert into tenant_message_counts (tenant_id, messages)
        select tenant_id, count(*) from messages group by tenant_id`.execute(db);
      await db.schema
        .createIndex('messages_tenant_seq')
        .on('messages')
        .columns(['tenant_id', 'tenant_seq'])
        .unique()
        .execute();
      // An end user's list (sms:read): their rows in ledger order, counted and paged on this index.
      await db.schema
        .createIndex('messages_tenant_subject_seq')
        .on('messages')
        .columns(['tenant_id', 'subject', 'tenant_seq'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex('messages_tenant_subject_seq').execute();
      await db.schema.dropIndex('messages_tenant_seq').execute();
      await db.schema.alterTable('messages').dropColumn('tenant_seq').execute();
      await sql`drop table tenant_message_counts`.execute(db);
    },
  },
  '0015_usage_rollups': {
    async up(db: Kysely<unknown>) {
      // The console's counters, each written twice: per minute (granularity `m`, bucket
      // `YYYY-MM-DDTHH:MM`), pruned after a few days, and per hour (`h`, `YYYY-MM-DDTHH:00`), pruned
      // after months. Tenant `*` holds the account's own counters (provider calls, 429s).
      await db.schema
        .createTable('usage_rollups')
        .addColumn('tenant_id', 'varchar(64)', (col) => col.notNull())
        .addColumn('bucket', 'varchar(16)', (col) => col.notNull())
        .addColumn('granularity', 'varchar(1)', (col) => col.notNull())
        .addColumn('metric', 'varchar(40)', (col) => col.notNull())
        .addColumn('value', 'bigint', (col) => col.notNull())
        .addPrimaryKeyConstraint('usage_rollups_pk', ['tenant_id', 'granularity', 'bucket', 'metric'])
        .execute();
      await db.schema
        .createIndex('usage_rollups_age')
        .on('usage_rollups')
        .columns(['granularity', 'bucket'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await sql`drop table usage_rollups`.execute(db);
    },
  },
};
