// The store: kysely over SQLite (embedded) with migrations run at start-up, and repositories
// behind interfaces so the rest of the gateway never writes SQL.
export {
  openDatabase,
  openSqliteDatabase,
  openPostgresDatabase,
  migrateToLatest,
  WAL_CHECKPOINT_PAGES,
  type Db,
  type Database,
  type StoreSettings,
} from './database';
export { isPostgres } from './dialect';
export {
  createMessageRepository,
  type MessageRepository,
  type MessageRecord,
  type MessageOutcome,
  type StatusChange,
  type NewSendJob,
  type RecordedOutcomes,
  type MessageFilter,
} from './message-repository';
export { statusRank, MESSAGE_STATUSES } from './message-status';
export { createQuotaRepository, type QuotaRepository, type QuotaDemand } from './quota-repository';
export {
  createDeliveryReportRepository,
  type DeliveryReportRepository,
  type DeliveryReportInput,
  type IntakeCounts,
} from './delivery-report-repository';
export {
  createInboundRepository,
  type InboundRepository,
  type InboundInput,
  type InboundRecord,
  type InboundCounts,
  type AssignResult,
} from './inbound-repository';
export {
  createEventRepository,
  type EventRepository,
  type EventType,
  type StoredEvent,
  type TicketOwner,
  type WebhookTenants,
  ADMIN_CHANNEL,
} from './event-repository';
export {
  createOutboxRepository,
  type OutboxRepository,
  type DueDelivery,
  type DeadLetter,
  type AttemptRecord,
  type ClaimRoom,
} from './outbox-repository';
export { createFormReplyRepository, type FormReplyRepository } from './form-reply-repository';
export {
  createIdempotencyRepository,
  type IdempotencyRepository,
  type IdempotencyClaim,
} from './idempotency-repository';
export { createSendJobRepository, type SendJobRepository, type SendJob } from './send-job-repository';
export {
  createSuppressionRepository,
  ACCOUNT_SCOPE,
  type SuppressionRepository,
  type SuppressionRecord,
  type SuppressionChange,
  type AppliedChange,
  type OptOutRules,
  type OptAction,
} from './suppression-repository';
export {
  createAccountRepository,
  type AccountRepository,
  type AccountBalance,
  type LowBalancePolicy,
} from './account-repository';
export {
  createVerificationRepository,
  type VerificationRepository,
  type VerificationTarget,
  type VerificationCounts,
  type VerificationDecision,
  type VerificationRecord,
  type CheckOutcome,
  type RequestOutcome,
} from './verification-repository';
export { createStores, type Stores } from './stores';
export { createGroupCommit, type GroupWriter } from './group-commit';
export {
  createRollupRepository,
  minuteBucket,
  type RollupRepository,
  type RollupIncrement,
  type RollupPoint,
  type RollupResolution,
  type CompactionResult,
} from './rollup-repository';
export {
  createConsoleRepository,
  type ConsoleRepository,
  type ConsoleMessage,
  type ConsoleMessageQuery,
  type DeadLetterDetail,
  type DisabledEndpoint,
  type WebhookHealth,
} from './console-repository';
