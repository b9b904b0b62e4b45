// The provider adapter (Cellcast v3 over node:http). The APPKEY is attached here and nowhere else;
// provider answers are validated and mapped to the gateway's error codes.
export {
  createUpstreamClient,
  withPlus,
  PASS_THROUGH_READS,
  type UpstreamClient,
  type UpstreamOptions,
  type ProviderSendRequest,
  type ProviderSendResult,
  type ProviderRead,
  type ProviderEnvelope,
  type WriteGate,
} from './client';
export { UpstreamError, type UpstreamFailureKind } from './errors';
