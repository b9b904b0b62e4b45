import { sql } from 'kysely';
import type { Db } from './database';
import { createDeliveryReportRepository, type DeliveryReportRepository } from './delivery-report-repository';
import { createEventRepository, type EventRepository, type WebhookTenants } from './event-repository';
import { createFormReplyRepository, type FormReplyRepository } from './form-reply-repository';
import { createIdempotencyRepository, type IdempotencyRepository } from './idempotency-repository';
import { createInboundRepository, type InboundRepository } from './inbound-repository';
import { createMessageRepository, type MessageRepository } from './message-repository';
import { createOutboxRepository, type OutboxRepository } from './outbox-repository';
import { createQuotaRepository, type QuotaRepository } from './quota-repository';
import { createSendJobRepository, type SendJobRepository } from './send-job-repository';
import { createConsoleRepository, type ConsoleRepository } from './console-repository';
import { createRollupRepository, type RollupRepository } from './rollup-repository';
import { createAccountRepository, type AccountRepository } from './account-repository';
import {
  createSuppressionRepository,
  type OptOutRules,
  type SuppressionRepository,
} from './suppression-repository';
import { createVerificationRepository, type VerificationRepository } from './verification-repository';

/** Every repository of the gateway, over one database. */
export interface Stores {
  messages: MessageRepository;
  sendJobs: SendJobRepository;
  quotas: QuotaRepository;
  deliveryReports: DeliveryReportRepository;
  inbound: InboundRepository;
  events: EventRepository;
  outbox: OutboxRepository;
  formReplies: FormReplyRepository;
  idempotencyKeys: IdempotencyRepository;
  /** The console's per-minute counters and its cross-tenant reads. */
  rollups: RollupRepository;
  console: ConsoleRepository;
  suppressions: SuppressionRepository;
  account: AccountRepository;
  verifications: VerificationRepository;
  /** Resolves when the database answers (readiness). A property: the readiness check holds it. */
  ping: () => Promise<void>;
}

/**
 * `hasWebhook`: the tenants whose events also get an outbox row (a webhook to deliver). `optOuts`:
 * what replies do to the suppression lists (none without it).
 */
export function createStores(db: Db, hasWebhook: WebhookTenants, optOuts?: OptOutRules): Stores {
  return {
    messages: createMessageRepository(db),
    sendJobs: createSendJobRepository(db),
    quotas: createQuotaRepository(db),
    deliveryReports: createDeliveryReportRepository(db, hasWebhook),
    inbound: createInboundRepository(db, hasWebhook, optOuts),
    events: createEventRepository(db),
    outbox: createOutboxRepository(db),
    formReplies: createFormReplyRepository(db),
    idempotencyKeys: createIdempotencyRepository(db),
    rollups: createRollupRepository(db),
    console: createConsoleRepository(db),
    suppressions: createSuppressionRepository(db, hasWebhook, (scope) => optOuts?.audience(scope) ?? []),
    account: createAccountRepository(db, hasWebhook),
    verifications: createVerificationRepository(db, hasWebhook),
    async ping() {
      await sql`select 1`.execute(db);
    },
  };
}
