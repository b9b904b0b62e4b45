// Provider callbacks: delivery reports are checked, stored and applied to the sending tenant's
// messages before the provider gets its 2xx; inbound replies are routed to the tenant they
// belong to. (Fan-out to tenants by webhook and SSE comes next.)
export { createDeliveryReportIntake, statusRank } from './delivery-reports';
export { createInboundIntake } from './inbound';
export { callbacksRouter, callbackToken, type CallbackIntakes } from './routes';
export { inboundRouter } from './inbound-routes';
