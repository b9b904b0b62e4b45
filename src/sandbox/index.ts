// The provider sandbox: a Cellcast v3 simulator served over real HTTP, used in-process by
// `npm start` (sandbox mode), standalone by `npm run sandbox`, and by every e2e test.
export { createSandbox, type Sandbox } from './sandbox';
export { providerMessageId } from './sending';
export type {
  SandboxOptions,
  SandboxCall,
  Faults,
  DeliveryReport,
  DeliveryStatus,
  InboundMessage,
  SentMessage,
  TemplateSeed,
  ProviderTemplate,
  OptedOutContact,
} from './types';
export { segmentCount, providerTextLength, normaliseNumber } from './provider-rules';
export {
  createIdentityProvider,
  type IdentityProvider,
  type IdentityProviderOptions,
  type SignInUser,
} from './identity-provider';
export { createExampleApp, EXAMPLE_APP_CLIENT_ID, type ExampleApp } from './example-app';
