import { z } from 'zod';
import type { Clock } from '../clock';
import type { Config } from '../config';
import type { Logger } from '../observability';
import type { UpstreamBudget } from '../scheduler';
import type { AccountBalance, AccountRepository, LowBalancePolicy, StoredEvent } from '../store';
import type { UpstreamClient } from '../upstream';

/** The budget queue the balance reads wait in (weight 1, beside the tenants'). */
export const ACCOUNT_QUEUE = '_account';

// Balances are decimal strings in v3 ("5831.43"), numbers in v1: both accepted.
const decimal = z.union([z.number(), z.string().regex(/^-?[0-9]+(\.[0-9]+)?$/)]).transform(Number);
const accountSchema = z.object({
  data: z.object({ sms_balance: decimal, mms_balance: decimal.optional() }),
});

export interface AccountStatus extends AccountBalance {
  lowBalanceThreshold: number | null;
}

export interface AccountMonitor {
  /** Reads the balance (`account`, through the budget), records it, announces a crossing. */
  pollOnce(): Promise<AccountBalance>;
  /** The provider's low-credit alert from a send answer: a crossing too (announced once). */
  providerAlert: (alert: string) => void;
  /** The balance as last recorded by any replica. */
  status: () => Promise<AccountStatus>;
  /** The last balance this replica saw (for the metrics), without a query. */
  lastSeen(): { sms: number | null; mms: number | null };
  /** Resolves when the alerts being recorded are. */
  idle(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

/**
 * The account's spend: the provider balance polled through the upstream budget, kept in the store
 * (so every replica and /v1/admin/usage see the same), and `account.low_balance` emitted once per
 * crossing of `account.lowBalanceThreshold` — the flip is one conditional UPDATE, so one replica
 * announces it, and only a top-up (a balance back at or above it) re-arms it.
 */
export function createAccountMonitor(options: {
  config: Config;
  budget: UpstreamBudget;
  upstream: UpstreamClient;
  account: AccountRepository;
  clock: Clock;
  logger: Logger;
  onEvents: (events: StoredEvent[]) => void;
}): AccountMonitor {
  const { config, budget, upstream, account, clock, logger, onEvents } = options;
  const policy: LowBalancePolicy = {
    threshold: config.account.lowBalanceThreshold,
    notify:
      config.account.notifyTenants ??
      Object.entries(config.tenants)
        .filter(([, tenant]) => tenant.scopes.includes('admin'))
        .map(([id]) => id),
  };
  let seen: { sms: number | null; mms: number | null } = { sms: null, mms: null };
  // While this replica knows the alarm is on, further alerts (one per send) cost no store write.
  let knownLow = false;
  let alerting: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  const iso = () => new Date(clock.now()).toISOString();

  async function pollOnce(): Promise<AccountBalance> {
    const { body } = await budget.run(ACCOUNT_QUEUE, () => upstream.read('account', {}));
    const parsed = accountSchema.safeParse(body);
    if (!parsed.success) throw new Error('account answer was not in the documented shape');
    const reading = { sms: parsed.data.data.sms_balance, mms: parsed.data.data.mms_balance ?? null };
    seen = reading;
    const { crossed, events } = await account.recordBalance(reading, iso(), policy);
    onEvents(events);
    if (crossed)
      logger.warn({ event: 'account.low_balance', balance: reading.sms }, 'provider balance is low');
    const current = await account.current();
    knownLow = current.low;
    return current;
  }

  async function recordAlert(alert: string): Promise<void> {
    // "… you have 36.80 credits remaining …"
    const stated = /([0-9]+(?:\.[0-9]+)?)\s*credits?/i.exec(alert);
    const balance = stated ? Number(stated[1]) : null;
    if (balance !== null) seen = { ...seen, sms: balance };
    const { crossed, events } = await account.recordAlert(balance, alert, iso(), policy);
    knownLow = true;
    onEvents(events);
    if (crossed) logger.warn({ event: 'account.low_balance', balance }, 'provider says the balance is low');
  }

  return {
    pollOnce,
    providerAlert(alert) {
      if (knownLow || alerting) return;
      alerting = recordAlert(alert)
        .catch((error: unknown) => logger.warn({ err: error }, 'could not record the low-balance alert'))
        .finally(() => {
          alerting = undefined;
        });
    },
    status: async () => ({ ...(await account.current()), lowBalanceThreshold: policy.threshold ?? null }),
    lastSeen: () => seen,
    async idle() {
      await alerting;
    },
    start() {
      if (config.account.pollIntervalMs <= 0) return;
      timer = setInterval(() => {
        running ??= pollOnce()
          .catch((error: unknown) => logger.warn({ err: error }, 'balance poll failed; will try again'))
          .finally(() => {
            running = undefined;
          });
      }, config.account.pollIntervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      await running;
      await alerting;
    },
  };
}
