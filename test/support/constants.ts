/** Test-only credentials: never real, distinctive so a leak is easy to find. */
export const TEST_APPKEY = 'test-appkey-5f1c9e0a7b2d4c3e';
export const TEST_CALLBACK_TOKEN = 'test-callback-token-7d3a91c2e8b4f6051a2c';
/** Standard Webhooks secrets (whsec_ + base64 of 24 bytes), one per test tenant. */
export const TEST_WEBHOOK_SECRETS = {
  alpha: 'whsec_YWxwaGEtd2ViaG9vay1zZWNyZXQtMDAwMQ==',
  beta: 'whsec_YmV0YS13ZWJob29rLXNlY3JldC0wMDAwMQ==',
  rotated: 'whsec_cm90YXRlZC13ZWJob29rLXNlY3JldC0wMQ==',
};
export const TEST_JWT_SECRET = 'test-jwt-secret-for-the-smsgate-suite-only-0123456789';
