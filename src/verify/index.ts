// Phone verification: CSPRNG codes sent with the tenant's verification template, stored as a keyed
// hash, checked in constant time a bounded number of times; SMS pumping limits per number, range,
// country and client IP, with fraud.suspected for a range that asks much and verifies little.
export { createVerifier, type Verifier, type VerifierDeps, type CheckResult } from './verifications';
export { verificationRoutes } from './routes';
export { createExpirySweeper, type ExpirySweeper } from './sweeper';
export { generateCode, codeDigest } from './codes';
export { decide, rangeOf } from './pumping';
