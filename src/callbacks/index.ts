// Provider callbacks: delivery reports are checked, stored and applied to the sending tenant's
// messages before the provider gets its 2xx; inbound replies are routed to the tenant they
// belong to, or held for an operator to assign when they name a message we cannot place; a
// poller of get-responses catches replies whose callback never came. Each change is stored with
// its event and outbox row (delivery/ sends them on).
export { createDeliveryReportIntake, statusRank } from './delivery-reports';
export { createInboundIntake } from './inbound';
export { callbackRoutes, callbackToken, callbackGuard, type CallbackIntakes } from './routes';
export { createInboundBackstop, BACKSTOP_QUEUE, type InboundBackstop } from './backstop';
export { inboundRoutes } from './inbound-routes';
export { inboundAdminRoutes } from './inbound-admin-routes';
