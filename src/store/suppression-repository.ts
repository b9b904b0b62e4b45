import type { Transaction } from 'kysely';
import type { Database, Db, SuppressionsTable } from './database';
import { appendEvents, type NewEvent, type StoredEvent, type WebhookTenants } from './event-repository';
import { listOf, placeholderOf } from './statements';
import { runRead } from './write-plan';

/** The scope of the account-wide list (every tenant's marketing sends skip its numbers). */
export const ACCOUNT_SCOPE = '*';

export type OptAction = 'opt_out' | 'opt_in';

/** A number going on (`opt_out`) or off (`opt_in`) one list. */
export interface SuppressionChange {
  action: OptAction;
  /** A tenant id, or ACCOUNT_SCOPE. */
  scope: string;
  number: string;
  /** `reply`, `admin` or `provider`. */
  source: string;
  reason: string | null;
}

export interface SuppressionRecord {
  /** null: account-wide. */
  tenant: string | null;
  number: string;
  source: string;
  reason: string | null;
  createdAt: string;
}

/** What a reply does to the lists, decided from the tenant's keywords and the configured scope. */
export interface OptOutRules {
  /** The change a reply's text makes (tenantId null: the reply was routed to nobody), or null. */
  changeOf(tenantId: string | null, text: string): { action: OptAction; scope: string } | null;
  /** Tenants told about a change to this list (`contact.opted_out` / `contact.opted_in`). */
  audience: (scope: string) => string[];
}

/** A change that took effect (the number was not already in that state), for acknowledgements. */
export interface AppliedChange extends SuppressionChange {
  /** The tenants told about it. */
  tenants: string[];
  /** For a reply: the tenant it was routed to (the one that acknowledges it), if any. */
  repliedTo?: string | null;
}

export interface SuppressionRepository {
  /** The numbers among these a tenant may not send marketing to: on its own list or the account's. */
  suppressedAmong(tenantId: string, numbers: string[]): Promise<Set<string>>;
  /** Applies changes in one transaction with their events; a change that changes nothing is skipped. */
  apply(
    changes: SuppressionChange[],
    at: string,
  ): Promise<{ applied: AppliedChange[]; events: StoredEvent[] }>;
  /** One list (a tenant id or ACCOUNT_SCOPE) or all, optionally one number; newest first. */
  list(
    filter: { scope?: string | undefined; number?: string | undefined },
    page: { offset: number; size: number },
  ): Promise<{ items: SuppressionRecord[]; total: number }>;
  /** Claims the one acknowledgement of this tenant to this number on this day; false if already sent. */
  claimAck(tenantId: string, number: string, day: string, at: string): Promise<boolean>;
  /** Gives a claim back (the acknowledgement could not be sent). */
  releaseAck(tenantId: string, number: string, day: string): Promise<void>;
}

function fromRow(row: SuppressionsTable): SuppressionRecord {
  return {
    tenant: row.scope === ACCOUNT_SCOPE ? null : row.scope,
    number: row.number,
    source: row.source,
    reason: row.reason,
    createdAt: row.created_at,
  };
}

/**
 * Applies changes inside the caller's transaction and returns the events announcing the ones that
 * took effect: `contact.opted_out` / `contact.opted_in` to every tenant the list concerns.
 */
export async function applySuppressionChanges(
  trx: Transaction<Database>,
  changes: SuppressionChange[],
  at: string,
  audience: (scope: string) => string[],
): Promise<{ applied: AppliedChange[]; events: NewEvent[] }> {
  const applied: AppliedChange[] = [];
  const events: NewEvent[] = [];
  for (const change of changes) {
    let changed: boolean;
    if (change.action === 'opt_out') {
      const result = await trx
        .insertInto('suppressions')
        .values({
          scope: change.scope,
          number: change.number,
          source: change.source,
          reason: change.reason,
          created_at: at,
        })
        .onConflict((oc) => oc.columns(['scope', 'number']).doNothing())
        .executeTakeFirst();
      changed = Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
    } else {
      const result = await trx
        .deleteFrom('suppressions')
        .where('scope', '=', change.scope)
        .where('number', '=', change.number)
        .executeTakeFirst();
      changed = Number(result.numDeletedRows) > 0;
    }
    if (!changed) continue;
    const tenants = audience(change.scope);
    applied.push({ ...change, tenants });
    for (const tenantId of tenants) {
      events.push({
        tenantId,
        type: change.action === 'opt_out' ? 'contact.opted_out' : 'contact.opted_in',
        data: {
          number: change.number,
          scope: change.scope === ACCOUNT_SCOPE ? 'account' : 'tenant',
          source: change.source,
          reason: change.reason,
          at,
        },
      });
    }
  }
  return { applied, events };
}

export function createSuppressionRepository(
  db: Db,
  hasWebhook: WebhookTenants,
  audience: (scope: string) => string[],
): SuppressionRepository {
  return {
    async suppressedAmong(tenantId, numbers) {
      const found = new Set<string>();
      // Every marketing send asks (the default purpose): a prepared statement, not a kysely query.
      const placeholder = placeholderOf(db);
      for (let i = 0; i < numbers.length; i += 500) {
        const chunk = numbers.slice(i, i + 500);
        const text =
          `select "number" from "suppressions" where "scope" in (${listOf(placeholder, 1, 2)})` +
          ` and "number" in (${listOf(placeholder, 3, chunk.length)})`;
        const rows = await runRead(db, { text, values: [tenantId, ACCOUNT_SCOPE, ...chunk] });
        for (const row of rows) found.add(row.number as string);
      }
      return found;
    },

    async apply(changes, at) {
      if (changes.length === 0) return { applied: [], events: [] };
      return db.transaction().execute(async (trx) => {
        const { applied, events } = await applySuppressionChanges(trx, changes, at, audience);
        return { applied, events: await appendEvents(trx, events, at, hasWebhook) };
      });
    },

    async list(filter, page) {
      const filtered = db
        .selectFrom('suppressions')
        .$if(filter.scope !== undefined, (q) => q.where('scope', '=', filter.scope as string))
        .$if(filter.number !== undefined, (q) => q.where('number', '=', filter.number as string));
      const { total } = await filtered
        .select((eb) => eb.fn.countAll<number | string>().as('total'))
        .executeTakeFirstOrThrow();
      const rows = await filtered
        .selectAll()
        .orderBy('created_at', 'desc')
        .orderBy('number', 'asc')
        .orderBy('scope', 'asc')
        .limit(page.size)
        .offset(page.offset)
        .execute();
      return { total: Number(total), items: rows.map(fromRow) };
    },

    async claimAck(tenantId, number, day, at) {
      const result = await db
        .insertInto('optout_acks')
        .values({ tenant_id: tenantId, number, day, created_at: at })
        .onConflict((oc) => oc.columns(['tenant_id', 'number', 'day']).doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
    },

    async releaseAck(tenantId, number, day) {
      await db
        .deleteFrom('optout_acks')
        .where('tenant_id', '=', tenantId)
        .where('number', '=', number)
        .where('day', '=', day)
        .execute();
    },
  };
}
