// Spend: the provider balance polled through the upstream budget, shown as a metric and on
// /v1/admin/usage, and `account.low_balance` once per crossing of the configured threshold.
export {
  createAccountMonitor,
  ACCOUNT_QUEUE,
  type AccountMonitor,
  type AccountStatus,
} from './account-monitor';
