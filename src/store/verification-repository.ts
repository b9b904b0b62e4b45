import { sql, type Transaction } from 'kysely';
import type { Database, Db } from './database';
import { isPostgres } from './dialect';
import { ADMIN_CHANNEL, appendEvents, type StoredEvent, type WebhookTenants } from './event-repository';

/** Where a verification request goes and who asked: what the pumping limits count by. */
export interface VerificationTarget {
  tenantId: string;
  recipient: string;
  country: string;
  range: string;
  clientIp: string | null;
}

/** What the last hour holds for a target, counted inside the request's transaction. */
export interface VerificationCounts {
  /** Codes sent (anything not refused) in the window. */
  sentToNumber: number;
  sentToRange: number;
  sentToCountry: number;
  sentFromIp: number;
  /** When the last code to this number was sent (ISO), if any in the window. */
  lastSentToNumberAt: string | null;
  /** Every request for the range in the window, refused ones included, and those approved. */
  rangeRequests: number;
  rangeApproved: number;
  /** The range was flagged within the window. */
  rangeFlagged: boolean;
}

export type VerificationDecision = { send: true } | { send: false; refusal: string; flagRange?: boolean };

export interface NewVerification {
  id: string;
  codeHash: string;
  expiresAt: string;
}

export type RequestOutcome =
  { sent: true; canceled: number } | { sent: false; refusal: string; events: StoredEvent[] };

export interface VerificationRecord {
  id: string;
  tenantId: string;
  recipient: string;
  status: string;
  checks: number;
  codeHash: string | null;
  createdAt: string;
  expiresAt: string;
}

export type CheckOutcome =
  | { result: 'approved'; verification: VerificationRecord; events: StoredEvent[] }
  | {
      result: 'denied';
      reason: 'wrong_code' | 'expired' | 'locked' | 'canceled' | 'approved' | 'failed';
      verification: VerificationRecord;
      events: StoredEvent[];
    };

export interface VerificationRepository {
  /**
   * One verification request, decided and recorded in one transaction that no other request of
   * the tenant interleaves with (an advisory lock on PostgreSQL; SQLite has one writer): the
   * counts of the window, the decision, then either the new pending code (the number's previous
   * pending code canceled) or a refused row, and, when the decision flags the range, its alert
   * and a fraud.suspected event on the admin channel.
   */
  request(
    target: VerificationTarget,
    window: { since: string; now: string },
    decide: (counts: VerificationCounts) => VerificationDecision,
    code: NewVerification,
  ): Promise<RequestOutcome>;
  /** The send failed: the code was never delivered (it still counts against the limits). */
  markFailed(tenantId: string, id: string, now: string): Promise<void>;
  find(tenantId: string, id: string): Promise<VerificationRecord | undefined>;
  /** The number's latest code (not a refused request). */
  findLatestFor(tenantId: string, recipient: string): Promise<VerificationRecord | undefined>;
  /**
   * One check of a code: counts the check first (a conditional UPDATE, so no more than
   * `maxChecks` are ever made, whichever replicas they reach), then asks `matches`; the right code
   * approves, the last wrong one locks. An expired code is marked expired (with its event).
   */
  check(
    tenantId: string,
    id: string,
    now: string,
    maxChecks: number,
    matches: (codeHash: string) => boolean,
  ): Promise<CheckOutcome>;
  /** Marks up to `limit` pending codes past their expiry as expired, each with its event. */
  expireDue(now: string, limit: number): Promise<StoredEvent[]>;
}

type Row = Database['verifications'];

const NOTHING_COUNTED: VerificationCounts = {
  sentToNumber: 0,
  sentToRange: 0,
  sentToCountry: 0,
  sentFromIp: 0,
  lastSentToNumberAt: null,
  rangeRequests: 0,
  rangeApproved: 0,
  rangeFlagged: false,
};

const toRecord = (row: Row): VerificationRecord => ({
  id: row.id,
  tenantId: row.tenant_id,
  recipient: row.recipient,
  status: row.status,
  checks: Number(row.checks),
  codeHash: row.code_hash,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
});

/** Stable 32-bit key of a tenant's verification lock (PostgreSQL advisory locks take integers). */
function lockKey(tenantId: string): number {
  let hash = 7;
  for (const char of `verify:${tenantId}`) hash = (Math.imul(hash, 31) + char.charCodeAt(0)) | 0;
  return hash;
}

export function createVerificationRepository(db: Db, hasWebhook: WebhookTenants): VerificationRepository {
  const statusEvent = (
    trx: Transaction<Database>,
    type: 'verification.approved' | 'verification.expired',
    record: VerificationRecord,
    at: string,
  ) =>
    appendEvents(
      trx,
      [
        {
          tenantId: record.tenantId,
          type,
          data: {
            verificationId: record.id,
            to: record.recipient,
            status: type === 'verification.approved' ? 'approved' : 'expired',
            at,
          },
        },
      ],
      at,
      hasWebhook,
    );

  async function count(
    trx: Transaction<Database>,
    filter: (q: ReturnType<typeof base>) => ReturnType<typeof base>,
  ): Promise<number> {
    const row = await filter(base(trx))
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }
  const base = (trx: Transaction<Database>) => trx.selectFrom('verifications');

  async function expireInside(
    trx: Transaction<Database>,
    record: VerificationRecord,
    now: string,
  ): Promise<StoredEvent[]> {
    const result = await trx
      .updateTable('verifications')
      .set({ status: 'expired', updated_at: now })
      .where('id', '=', record.id)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1 ? statusEvent(trx, 'verification.expired', record, now) : [];
  }

  return {
    async request(target, window, decide, code) {
      return db.transaction().execute(async (trx) => {
        if (isPostgres(trx))
          await sql`select pg_advisory_xact_lock(${lockKey(target.tenantId)})`.execute(trx);
        const { since, now } = window;
        const recent = (q: ReturnType<typeof base>) =>
          q.where('tenant_id', '=', target.tenantId).where('created_at', '>', since);
        const sent = (q: ReturnType<typeof base>) => recent(q).where('status', '!=', 'refused');
        const countWindow = async (): Promise<VerificationCounts> => {
          const last = await sent(base(trx))
            .where('recipient', '=', target.recipient)
            .select('created_at')
            .orderBy('created_at', 'desc')
            .limit(1)
            .executeTakeFirst();
          return {
            sentToNumber: await count(trx, (q) => sent(q).where('recipient', '=', target.recipient)),
            sentToRange: await count(trx, (q) => sent(q).where('number_range', '=', target.range)),
            sentToCountry: await count(trx, (q) => sent(q).where('country', '=', target.country)),
            sentFromIp:
              target.clientIp === null
                ? 0
                : await count(trx, (q) =>
                    q
                      .where('client_ip', '=', target.clientIp)
                      .where('created_at', '>', since)
                      .where('status', '!=', 'refused'),
                  ),
            lastSentToNumberAt: last?.created_at ?? null,
            rangeRequests: await count(trx, (q) => recent(q).where('number_range', '=', target.range)),
            rangeApproved: await count(trx, (q) =>
              recent(q).where('number_range', '=', target.range).where('status', '=', 'approved'),
            ),
            rangeFlagged: false,
          };
        };
        const flagged = await trx
          .selectFrom('verification_alerts')
          .select('created_at')
          .where('tenant_id', '=', target.tenantId)
          .where('number_range', '=', target.range)
          .where('created_at', '>', since)
          .executeTakeFirst();
        // A flagged range is refused whatever else the window holds: count nothing more.
        const counts = flagged ? { ...NOTHING_COUNTED, rangeFlagged: true } : await countWindow();
        const decision = decide(counts);
        const row = {
          id: code.id,
          tenant_id: target.tenantId,
          recipient: target.recipient,
          country: target.country,
          number_range: target.range,
          client_ip: target.clientIp,
          checks: 0,
          created_at: now,
          updated_at: now,
        };
        if (!decision.send) {
          await trx
            .insertInto('verifications')
            .values({
              ...row,
              code_hash: null,
              status: 'refused',
              refusal: decision.refusal,
              expires_at: now,
            })
            .execute();
          if (!decision.flagRange) return { sent: false, refusal: decision.refusal, events: [] };
          await trx
            .insertInto('verification_alerts')
            .values({ tenant_id: target.tenantId, number_range: target.range, created_at: now })
            .execute();
          const events = await appendEvents(
            trx,
            [
              {
                tenantId: ADMIN_CHANNEL,
                type: 'fraud.suspected',
                data: {
                  tenant: target.tenantId,
                  range: target.range,
                  country: target.country,
                  requests: counts.rangeRequests + 1,
                  approved: counts.rangeApproved,
                  since,
                  blockedUntil: new Date(
                    Date.parse(now) + (Date.parse(now) - Date.parse(since)),
                  ).toISOString(),
                },
              },
            ],
            now,
            hasWebhook,
          );
          return { sent: false, refusal: decision.refusal, events };
        }
        const canceled = await trx
          .updateTable('verifications')
          .set({ status: 'canceled', updated_at: now })
          .where('tenant_id', '=', target.tenantId)
          .where('recipient', '=', target.recipient)
          .where('status', '=', 'pending')
          .executeTakeFirst();
        await trx
          .insertInto('verifications')
          .values({
            ...row,
            code_hash: code.codeHash,
            status: 'pending',
            refusal: null,
            expires_at: code.expiresAt,
          })
          .execute();
        return { sent: true, canceled: Number(canceled.numUpdatedRows) };
      });
    },

    async markFailed(tenantId, id, now) {
      await db
        .updateTable('verifications')
        .set({ status: 'failed', updated_at: now })
        .where('tenant_id', '=', tenantId)
        .where('id', '=', id)
        .where('status', '=', 'pending')
        .execute();
    },

    async find(tenantId, id) {
      const row = await db
        .selectFrom('verifications')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('id', '=', id)
        .where('status', '!=', 'refused')
        .executeTakeFirst();
      return row && toRecord(row);
    },

    async findLatestFor(tenantId, recipient) {
      const row = await db
        .selectFrom('verifications')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('recipient', '=', recipient)
        .where('status', '!=', 'refused')
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row && toRecord(row);
    },

    async check(tenantId, id, now, maxChecks, matches) {
      return db.transaction().execute(async (trx): Promise<CheckOutcome> => {
        const row = await trx
          .selectFrom('verifications')
          .selectAll()
          .where('tenant_id', '=', tenantId)
          .where('id', '=', id)
          .executeTakeFirstOrThrow();
        const record = toRecord(row);
        const denied = (
          reason: Exclude<CheckOutcome, { result: 'approved' }>['reason'],
          events: StoredEvent[] = [],
        ) => ({ result: 'denied', reason, verification: record, events }) as const;
        if (record.status === 'pending' && record.expiresAt <= now)
          return denied('expired', await expireInside(trx, record, now));
        if (record.status !== 'pending') {
          const reason =
            record.status === 'approved' ||
            record.status === 'expired' ||
            record.status === 'locked' ||
            record.status === 'canceled'
              ? record.status
              : 'failed';
          return denied(reason);
        }
        // The count as this UPDATE left it (not as read above: another replica may have counted since).
        const counted = await trx
          .updateTable('verifications')
          .set((eb) => ({ checks: eb('checks', '+', 1), updated_at: now }))
          .where('id', '=', id)
          .where('status', '=', 'pending')
          .where('checks', '<', maxChecks)
          .returning('checks')
          .executeTakeFirst();
        if (!counted) return denied('locked');
        const checks = Number(counted.checks);
        if (record.codeHash !== null && matches(record.codeHash)) {
          const approved = await trx
            .updateTable('verifications')
            .set({ status: 'approved', updated_at: now })
            .where('id', '=', id)
            .where('status', '=', 'pending')
            .executeTakeFirst();
          if (Number(approved.numUpdatedRows) !== 1) return denied('locked');
          const approvedRecord = { ...record, status: 'approved', checks };
          const events = await statusEvent(trx, 'verification.approved', approvedRecord, now);
          return { result: 'approved', verification: approvedRecord, events };
        }
        if (checks >= maxChecks) {
          await trx
            .updateTable('verifications')
            .set({ status: 'locked', updated_at: now })
            .where('id', '=', id)
            .where('status', '=', 'pending')
            .execute();
          return {
            result: 'denied',
            reason: 'wrong_code',
            verification: { ...record, status: 'locked', checks },
            events: [],
          };
        }
        return { result: 'denied', reason: 'wrong_code', verification: { ...record, checks }, events: [] };
      });
    },

    async expireDue(now, limit) {
      const rows = await db
        .selectFrom('verifications')
        .selectAll()
        .where('status', '=', 'pending')
        .where('expires_at', '<=', now)
        .orderBy('expires_at', 'asc')
        .limit(limit)
        .execute();
      const events: StoredEvent[] = [];
      for (const row of rows) {
        events.push(...(await db.transaction().execute((trx) => expireInside(trx, toRecord(row), now))));
      }
      return events;
    },
  };
}
