import type { Clock } from '../clock';
import type { Config } from '../config';
import { dayPeriod } from '../limits';
import type { SendMessages } from '../messages';
import type { Logger } from '../observability';
import type { AppliedChange, SuppressionRepository } from '../store';

export interface Acknowledger {
  /** Sends the tenant's acknowledgement for each reply that changed a list (in the background). */
  acknowledge: (changes: AppliedChange[]) => void;
  /** Resolves when every acknowledgement started so far has been sent or given up. */
  idle(): Promise<void>;
}

/**
 * The reply a tenant configures (`optOut.acknowledgement`) to a number that opted out or in: sent
 * as a transactional message of that tenant (so through its quota, the ledger and the upstream
 * budget), at most once per tenant, number and day (the claim is a row in the store, so replicas
 * agree). Sent in the background: the provider's callback is not kept waiting for a slot.
 */
export function createAcknowledger(deps: {
  config: Config;
  suppressions: SuppressionRepository;
  sendMessages: SendMessages;
  clock: Clock;
  logger: Logger;
}): Acknowledger {
  const { config, suppressions, sendMessages, clock, logger } = deps;
  const inFlight = new Set<Promise<void>>();

  async function send(tenantId: string, number: string, text: string): Promise<void> {
    const now = clock.now();
    const day = dayPeriod(now, config.quotas.timezone).key;
    if (!(await suppressions.claimAck(tenantId, number, day, new Date(now).toISOString()))) return;
    try {
      await sendMessages(
        { tenantId, scopes: ['sms:send'], subject: 'opt-out acknowledgement' },
        { to: number, text, purpose: 'transactional' },
      );
    } catch (error) {
      await suppressions.releaseAck(tenantId, number, day);
      throw error;
    }
  }

  return {
    acknowledge(changes) {
      for (const change of changes) {
        const tenantId = change.repliedTo;
        if (change.source !== 'reply' || !tenantId) continue;
        const texts = config.tenants[tenantId]?.optOut.acknowledgement;
        const text = change.action === 'opt_out' ? texts?.optedOut : texts?.optedIn;
        if (!text) continue;
        const done: Promise<void> = send(tenantId, change.number, text)
          .catch((error: unknown) =>
            logger.warn({ err: error, tenant: tenantId }, 'opt-out acknowledgement not sent'),
          )
          .finally(() => inFlight.delete(done));
        inFlight.add(done);
      }
    },
    async idle() {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
  };
}
