// Egress: where the gateway may send requests whose destination someone else chose (tenant
// webhook URLs). Guards against SSRF; used at config load and again at every delivery.
export {
  createEgressPolicy,
  createAddressMatcher,
  isValidAllowEntry,
  EgressRefused,
  type EgressPolicy,
  type Resolver,
} from './policy';
