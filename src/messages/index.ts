// Messages: send (validate, record, call the provider within the budget), list and get, each
// scoped to the caller's tenant.
export {
  createMessageSender,
  toPublicMessage,
  type MessagesDeps,
  type SendResult,
  type SendMessages,
  type QueuedSend,
  type PublicMessage,
} from './send';
export { messagesRouter } from './routes';
export {
  idempotency,
  parseIdempotencyKey,
  createIdempotencySweeper,
  type IdempotencySweeper,
} from './idempotency';
export {
  measureText,
  normaliseRecipients,
  chooseSender,
  parseSendRequest,
  MAX_GSM_SEPTETS,
  MAX_UCS2_UNITS,
} from './validation';
export { createSendWorker, type SendWorker } from './send-worker';
