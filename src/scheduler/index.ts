// The upstream budget: every provider call waits here for a slot under the account's cap of
// calls per rolling second (an exact sliding log, never a fixed window).
export { createUpstreamBudget, type UpstreamBudget, type UpstreamBudgetOptions } from './upstream-budget';
export { SlidingLog } from './sliding-log';
