// Provider callbacks: delivery reports are checked, stored and applied to the sending tenant's
// messages before the provider gets its 2xx. (Inbound replies and fan-out to tenants come next.)
export { createDeliveryReportIntake, statusRank } from './delivery-reports';
export { callbacksRouter, callbackToken } from './routes';
