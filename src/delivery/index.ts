// Delivery to tenants: the webhook outbox worker (Standard Webhooks signatures, backoff with
// jitter, dead letters), Server-Sent Events with tickets and Last-Event-ID replay, and the live
// fan-out of events across replicas.
export {
  createWebhookSender,
  signatureHeader,
  type DeliverWebhook,
  type WebhookTarget,
} from './webhook-sender';
export { createWebhookWorker, type WebhookWorker } from './webhook-worker';
export { nextRetryDelayMs } from './retry-schedule';
export { createEventHub, type EventHub } from './event-hub';
export { createEventStreams, type EventStreams } from './event-stream';
export { webhookAdminRoutes } from './admin-routes';
export {
  eventDefinitions,
  messageInboundEvent,
  messageStatusEvent,
  verificationApprovedEvent,
  verificationExpiredEvent,
  fraudSuspectedEvent,
} from './event-contract';
