import type { Transaction } from 'kysely';
import type { Database, Db } from './database';
import { appendEvents, type StoredEvent, type WebhookTenants } from './event-repository';

const ROW = 'account';

export interface AccountBalance {
  smsBalance: number | null;
  mmsBalance: number | null;
  checkedAt: string | null;
  /** The balance is below the threshold (announced), not yet topped up. */
  low: boolean;
}

/** What a low balance is and who hears about it. */
export interface LowBalancePolicy {
  threshold: number | undefined;
  notify: string[];
}

export interface AccountRepository {
  /**
   * Records a balance read from the provider. Below the threshold, the first reading to see it
   * (on any replica: the flip is one conditional UPDATE) appends `account.low_balance`; at or
   * above it, after a top-up, the alarm is re-armed.
   */
  recordBalance(
    reading: { sms: number; mms: number | null },
    at: string,
    policy: LowBalancePolicy,
  ): Promise<{ crossed: boolean; events: StoredEvent[] }>;
  /** The provider's own low-credit alert (in a send answer) counts as a crossing too. */
  recordAlert(
    balance: number | null,
    message: string,
    at: string,
    policy: LowBalancePolicy,
  ): Promise<{ crossed: boolean; events: StoredEvent[] }>;
  current(): Promise<AccountBalance>;
}

async function ensureRow(trx: Transaction<Database>): Promise<void> {
  await trx
    .insertInto('account_state')
    .values({ id: ROW, sms_balance: null, mms_balance: null, checked_at: null, low: 0, alert_balance: null })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
}

/** Flips the alarm on, once: true for the one caller whose UPDATE did it. */
async function markLow(trx: Transaction<Database>): Promise<boolean> {
  const result = await trx
    .updateTable('account_state')
    .set({ low: 1 })
    .where('id', '=', ROW)
    .where('low', '=', 0)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export function createAccountRepository(db: Db, hasWebhook: WebhookTenants): AccountRepository {
  async function announce(
    trx: Transaction<Database>,
    policy: LowBalancePolicy,
    data: Record<string, unknown>,
    at: string,
  ): Promise<StoredEvent[]> {
    const events = policy.notify.map((tenantId) => ({
      tenantId,
      type: 'account.low_balance' as const,
      data,
    }));
    return appendEvents(trx, events, at, hasWebhook);
  }

  return {
    async recordBalance(reading, at, policy) {
      return db.transaction().execute(async (trx) => {
        await ensureRow(trx);
        await trx
          .updateTable('account_state')
          .set({ sms_balance: reading.sms, mms_balance: reading.mms, checked_at: at })
          .where('id', '=', ROW)
          .execute();
        if (policy.threshold === undefined) return { crossed: false, events: [] };
        if (reading.sms >= policy.threshold) {
          // Re-armed only by a top-up: a balance above what the provider's alert last stated.
          await trx
            .updateTable('account_state')
            .set({ low: 0, alert_balance: null })
            .where('id', '=', ROW)
            .where('low', '=', 1)
            .where((eb) => eb.or([eb('alert_balance', 'is', null), eb('alert_balance', '<', reading.sms)]))
            .execute();
          return { crossed: false, events: [] };
        }
        if (!(await markLow(trx))) return { crossed: false, events: [] };
        const events = await announce(
          trx,
          policy,
          {
            smsBalance: reading.sms,
            mmsBalance: reading.mms,
            threshold: policy.threshold,
            source: 'balance',
            at,
          },
          at,
        );
        return { crossed: true, events };
      });
    },

    async recordAlert(balance, message, at, policy) {
      return db.transaction().execute(async (trx) => {
        await ensureRow(trx);
        if (balance !== null) {
          await trx
            .updateTable('account_state')
            .set({ sms_balance: balance, alert_balance: balance, checked_at: at })
            .where('id', '=', ROW)
            .execute();
        }
        if (!(await markLow(trx))) return { crossed: false, events: [] };
        const events = await announce(
          trx,
          policy,
          {
            smsBalance: balance,
            mmsBalance: null,
            threshold: policy.threshold ?? null,
            source: 'provider_alert',
            message: message.slice(0, 200),
            at,
          },
          at,
        );
        return { crossed: true, events };
      });
    },

    async current() {
      const row = await db.selectFrom('account_state').selectAll().where('id', '=', ROW).executeTakeFirst();
      return {
        smsBalance: row?.sms_balance ?? null,
        mmsBalance: row?.mms_balance ?? null,
        checkedAt: row?.checked_at ?? null,
        low: Number(row?.low ?? 0) === 1,
      };
    },
  };
}
