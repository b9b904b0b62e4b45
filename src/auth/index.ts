// Authentication and authorisation: JWT bearer tokens (HS256 secret or JWKS), tenant from a
// claim, scopes enforced per route; token minting for internal teams.
export { createAuthenticator, requireAccess } from './authenticate';
export { identityOf, type Identity } from './identity';
export { mintToken, parseTtl, type MintRequest } from './token';
export { clientCredentialsRoutes, authenticateClient } from './client-credentials';
