// Authentication and authorisation: JWT bearer tokens (HS256 secret or JWKS), tenant from a
// claim, scopes enforced per route; token minting for internal teams; CORS per tenant.
export {
  bearerToken,
  createAuthenticator,
  requireAccess,
  type Authenticator,
  type TrustedIssuer,
} from './authenticate';
export { identityOf, readsWholeTenant, readScopeOf, type Identity, type ReadScope } from './identity';
export { claimAt } from './claims';
export { mintToken, parseTtl, type MintRequest } from './token';
export { clientCredentialsRoutes, authenticateClient } from './client-credentials';
export { apiCors, API_CORS } from './cors';
