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
  verifications: VerificationRepository;
  /** Resolves when the database answers (readiness). A property: the readiness check holds it. */
  ping: () => Promise<void>;
}

/** `hasWebhook`: the tenants whose events also get an outbox row (a webhook to deliver). */
export function createStores(db: Db, hasWebhook: WebhookTenants): Stores {
  return {
    messages: createMessageRepository(db),
    sendJobs: createSendJobRepository(db),
    quotas: createQuotaRepository(db),
    deliveryReports: createDeliveryReportRepository(db, hasWebhook),
    inbound: createInboundRepository(db, hasWebhook),
    events: createEventRepository(db),
    outbox: createOutboxRepository(db),
    formReplies: createFormReplyRepository(db),
    idempotencyKeys: createIdempotencyRepository(db),
    verifications: createVerificationRepository(db, hasWebhook),
    async ping() {
      await sql`select 1`.execute(db);
    },
  };
}
