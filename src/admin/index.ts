// Operator tools: read-only pass-through of the provider's own reads, through the upstream budget.
export { upstreamPassThroughRoutes, ADMIN_QUEUE } from './pass-through';
