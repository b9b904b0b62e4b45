// Messages: send (validate, record, call the provider within the budget), list and get, each
// scoped to the caller's tenant; and every tenant's, by status, for operators.
export {
  createMessageSender,
  toPublicMessage,
  type SendOptions,
  type MessagesDeps,
  type SendResult,
  type SendMessages,
  type QueuedSend,
  type SuppressionCheck,
  type Purpose,
  type PublicMessage,
} from './send';
export { messageRoutes, type MessagesRoutesDeps } from './routes';
export { messageAdminRoutes } from './admin-routes';
export {
  idempotency,
  parseIdempotencyKey,
  createIdempotencySweeper,
  type IdempotencySweeper,
} from './idempotency';
export {
  measureText,
  normaliseRecipients,
  normaliseRecipientsIncrementally,
  chooseSender,
  parseSendRequest,
  sendRequestSchema,
  MAX_GSM_SEPTETS,
  MAX_UCS2_UNITS,
} from './validation';
export { parsePhoneNumberFromString, phoneNumberPatternsCached } from './phone-number';
export { createSendWorker, type SendWorker } from './send-worker';
export { recipientProblem, textProblem, ownNumberProblem, SENDING_SCOPES } from './send-rules';
