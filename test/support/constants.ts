/** Test-only credentials: never real, distinctive so a leak is easy to find. */
export const TEST_APPKEY = 'test-appkey-5f1c9e0a7b2d4c3e';
export const TEST_CALLBACK_TOKEN = 'test-callback-token-7d3a91c2e8b4f6051a2c';
export const TEST_JWT_SECRET = 'test-jwt-secret-for-the-smsgate-suite-only-0123456789';
