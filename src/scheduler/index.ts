// The upstream budget: every provider call waits here for a slot under the account's cap of
// calls per rolling second (an exact sliding log, never a fixed window), shared fairly between
// tenants by weight, in this process or across replicas through Redis.
export { createUpstreamBudget, type UpstreamBudget, type UpstreamBudgetOptions } from './upstream-budget';
export { createLocalSlotSource, type SlotSource } from './slot-source';
export { Pacer, paceSpacing } from './pacer';
export {
  createRedisSlotSource,
  type RedisSlotSource,
  type RedisSlotSourceOptions,
} from './redis-slot-source';
export { FairQueue } from './fair-queue';
export { SlidingLog } from './sliding-log';
export { createSendCoalescer, type SendThroughBudget, type CoalescerOptions } from './coalescer';
export {
  createCpuTurns,
  giveWayToCpuTurns,
  nextCpuTurn,
  requestTurn,
  CPU_TURN_BUDGET_MS,
  type CpuTurns,
  type TurnKey,
} from './cpu-turns';
