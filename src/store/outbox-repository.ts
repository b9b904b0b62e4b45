import type { Db } from './database';
import { isPostgres } from './dialect';

export interface DueDelivery {
  id: number;
  eventId: string;
  tenantId: string;
  /** Attempts made before this one. */
  attempts: number;
  payload: string;
}

export interface ClaimRoom {
  take(tenantId: string): boolean;
  giveBack(tenantId: string): void;
}

export interface DeadLetter {
  id: number;
  eventId: string;
  tenantId: string;
  type: string;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface AttemptRecord {
  attempts: number;
  status: number | null;
  error: string | null;
  at: string;
}

/** The webhook outbox: claimed by workers under a lease, so a crashed worker's rows come back. */
export interface OutboxRepository {
  /**
   * Claims up to `limit` due deliveries. `room.take(tenant)` is asked before each claim (false
   * skips the row); `room.giveBack(tenant)` undoes it when another worker claimed the row first.
   */
  claimDue(now: string, leaseUntil: string, limit: number, room: ClaimRoom): Promise<DueDelivery[]>;
  markDelivered(id: number, attempt: AttemptRecord): Promise<void>;
  scheduleRetry(id: number, attempt: AttemptRecord, nextAttemptAt: string): Promise<void>;
  markDead(id: number, attempt: AttemptRecord): Promise<void>;
  /** Frees every lease: only for a store this process owns alone (the embedded SQLite file). */
  releaseAllLeases(): Promise<void>;
  isEndpointDisabled(tenantId: string, url: string): Promise<boolean>;
  disableEndpoint(tenantId: string, url: string, reason: string, at: string): Promise<void>;
  enableEndpoint(tenantId: string, url: string): Promise<boolean>;
  listDeadLetters(
    tenantId: string | undefined,
    page: { offset: number; size: number },
  ): Promise<{ items: DeadLetter[]; total: number }>;
  /** Puts a dead letter back in line (attempts from zero, same webhook-id). False if there is none. */
  replay(id: number, at: string): Promise<boolean>;
}

export function createOutboxRepository(db: Db): OutboxRepository {
  const finish = (id: number, state: string, attempt: AttemptRecord, nextAttemptAt?: string) =>
    db
      .updateTable('webhook_deliveries')
      .set({
        state,
        attempts: attempt.attempts,
        last_status: attempt.status,
        last_error: attempt.error,
        lease_until: null,
        updated_at: attempt.at,
        ...(nextAttemptAt ? { next_attempt_at: nextAttemptAt } : {}),
      })
      .where('id', '=', id)
      .execute();

  /**
   * PostgreSQL, several replicas: due rows are locked with FOR UPDATE SKIP LOCKED, so each worker
   * takes rows no other worker is looking at, and the lease is set before the lock is released.
   */
  async function claimDueLocked(now: string, leaseUntil: string, limit: number, room: ClaimRoom) {
    const taken: string[] = [];
    try {
      return await db.transaction().execute(async (trx) => {
        const due = await trx
          .selectFrom('webhook_deliveries')
          .select(['id', 'event_id', 'tenant_id', 'attempts'])
          .where('state', '=', 'pending')
          .where('next_attempt_at', '<=', now)
          .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
          .orderBy('next_attempt_at')
          .orderBy('id')
          .limit(limit * 4)
          .forUpdate()
          .skipLocked()
          .execute();
        const chosen: typeof due = [];
        for (const row of due) {
          if (chosen.length >= limit) break;
          if (!room.take(row.tenant_id)) continue;
          taken.push(row.tenant_id);
          chosen.push(row);
        }
        if (chosen.length === 0) return [];
        await trx
          .updateTable('webhook_deliveries')
          .set({ lease_until: leaseUntil })
          .where(
            'id',
            'in',
            chosen.map((row) => row.id),
          )
          .execute();
        const payloads = await trx
          .selectFrom('events')
          .select(['event_id', 'payload'])
          .where(
            'event_id',
            'in',
            chosen.map((row) => row.event_id),
          )
          .execute();
        const payloadOf = new Map(payloads.map((p) => [p.event_id, p.payload]));
        return chosen.map((row) => ({
          id: Number(row.id),
          eventId: row.event_id,
          tenantId: row.tenant_id,
          attempts: row.attempts,
          payload: payloadOf.get(row.event_id) ?? '',
        }));
      });
    } catch (error) {
      taken.forEach((tenantId) => room.giveBack(tenantId));
      throw error;
    }
  }

  return {
    async claimDue(now, leaseUntil, limit, room) {
      if (isPostgres(db)) return claimDueLocked(now, leaseUntil, limit, room);
      const candidates = await db
        .selectFrom('webhook_deliveries')
        .innerJoin('events', 'events.event_id', 'webhook_deliveries.event_id')
        .select([
          'webhook_deliveries.id',
          'webhook_deliveries.event_id',
          'webhook_deliveries.tenant_id',
          'webhook_deliveries.attempts',
          'webhook_deliveries.lease_until',
          'events.payload',
        ])
        .where('webhook_deliveries.state', '=', 'pending')
        .where('webhook_deliveries.next_attempt_at', '<=', now)
        .where((eb) =>
          eb.or([
            eb('webhook_deliveries.lease_until', 'is', null),
            eb('webhook_deliveries.lease_until', '<', now),
          ]),
        )
        .orderBy('webhook_deliveries.next_attempt_at')
        .orderBy('webhook_deliveries.id')
        .limit(limit * 4)
        .execute();
      const claimed: DueDelivery[] = [];
      for (const row of candidates) {
        if (claimed.length >= limit) break;
        if (!room.take(row.tenant_id)) continue;
        // Conditional on the lease we saw: if another worker claimed it meanwhile, this updates nothing.
        const result = await db
          .updateTable('webhook_deliveries')
          .set({ lease_until: leaseUntil })
          .where('id', '=', row.id)
          .where('state', '=', 'pending')
          .where((eb) =>
            row.lease_until === null
              ? eb('lease_until', 'is', null)
              : eb('lease_until', '=', row.lease_until),
          )
          .executeTakeFirst();
        if (Number(result.numUpdatedRows) !== 1) {
          room.giveBack(row.tenant_id);
          continue;
        }
        claimed.push({
          id: Number(row.id),
          eventId: row.event_id,
          tenantId: row.tenant_id,
          attempts: row.attempts,
          payload: row.payload,
        });
      }
      return claimed;
    },

    async markDelivered(id, attempt) {
      await finish(id, 'done', attempt);
    },

    async scheduleRetry(id, attempt, nextAttemptAt) {
      await finish(id, 'pending', attempt, nextAttemptAt);
    },

    async markDead(id, attempt) {
      await finish(id, 'dead', attempt);
    },

    async releaseAllLeases() {
      await db
        .updateTable('webhook_deliveries')
        .set({ lease_until: null })
        .where('lease_until', 'is not', null)
        .execute();
    },

    async isEndpointDisabled(tenantId, url) {
      const row = await db
        .selectFrom('webhook_endpoints')
        .select('tenant_id')
        .where('tenant_id', '=', tenantId)
        .where('url', '=', url)
        .executeTakeFirst();
      return row !== undefined;
    },

    async disableEndpoint(tenantId, url, reason, at) {
      await db
        .insertInto('webhook_endpoints')
        .values({ tenant_id: tenantId, url, disabled_at: at, reason })
        .onConflict((oc) => oc.columns(['tenant_id', 'url']).doNothing())
        .execute();
    },

    async enableEndpoint(tenantId, url) {
      const result = await db
        .deleteFrom('webhook_endpoints')
        .where('tenant_id', '=', tenantId)
        .where('url', '=', url)
        .executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    async listDeadLetters(tenantId, page) {
      let count = db
        .selectFrom('webhook_deliveries')
        .select((eb) => eb.fn.countAll<number | string>().as('total'))
        .where('state', '=', 'dead');
      let rows = db
        .selectFrom('webhook_deliveries')
        .innerJoin('events', 'events.event_id', 'webhook_deliveries.event_id')
        .select([
          'webhook_deliveries.id',
          'webhook_deliveries.event_id',
          'webhook_deliveries.tenant_id',
          'events.type',
          'webhook_deliveries.attempts',
          'webhook_deliveries.last_status',
          'webhook_deliveries.last_error',
          'webhook_deliveries.created_at',
          'webhook_deliveries.updated_at',
        ])
        .where('webhook_deliveries.state', '=', 'dead');
      if (tenantId !== undefined) {
        count = count.where('tenant_id', '=', tenantId);
        rows = rows.where('webhook_deliveries.tenant_id', '=', tenantId);
      }
      const { total } = await count.executeTakeFirstOrThrow();
      const items = await rows
        .orderBy('webhook_deliveries.id', 'desc')
        .limit(page.size)
        .offset(page.offset)
        .execute();
      return {
        total: Number(total),
        items: items.map((row) => ({
          id: Number(row.id),
          eventId: row.event_id,
          tenantId: row.tenant_id,
          type: row.type,
          attempts: row.attempts,
          lastStatus: row.last_status,
          lastError: row.last_error,
          createdAt: row.created_at,
          updatedAt: row.updated_at,
        })),
      };
    },

    async replay(id, at) {
      const result = await db
        .updateTable('webhook_deliveries')
        .set({ state: 'pending', attempts: 0, next_attempt_at: at, lease_until: null, updated_at: at })
        .where('id', '=', id)
        .where('state', '=', 'dead')
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
  };
}
