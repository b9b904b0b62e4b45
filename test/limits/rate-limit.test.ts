import { randomBytes } from 'node:crypto';
import request from 'supertest';
import type { RunningServer } from '../../src/server';
import { bearer, startTestGateway, tokenFor } from '../support/gateway';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const limited = {
  scopes: ['sms:send', 'sms:read'],
  allowedCountries: ['AU'],
  rateLimit: { requests: 3, windowSec: 60 },
};

// The same cases run with in-memory counters and with counters in Redis shared by two replicas.
describe.each([
  ['in memory', false],
  ['in Redis, across two replicas', true],
])('per-tenant request rate, %s', (_name, shared) => {
  let replicas: RunningServer[];

  beforeAll(async () => {
    const overrides = {
      tenants: { limited },
      ...(shared ? { redis: { url: REDIS_URL, keyPrefix: `test-${randomBytes(6).toString('hex')}` } } : {}),
    };
    replicas = shared
      ? await Promise.all([startTestGateway(overrides), startTestGateway(overrides)])
      : [await startTestGateway(overrides)];
  });
  afterAll(() => Promise.all(replicas.map((r) => r.stop())));

  const list = (i: number, tenant = 'limited') =>
    request(replicas[i % replicas.length]!.url)
      .get('/v1/messages')
      .set(bearer(tokenFor(tenant)));

  it("counts a tenant's requests and answers the one over the limit with 429 OVER_LIMIT, Retry-After and draft-8 headers", async () => {
    const ok = [await list(0), await list(1), await list(2)];
    expect(ok.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(ok[0]!.headers['ratelimit-policy']).toMatch(/^"3-in-1min"; q=3; w=60/);
    expect(ok.map((r) => r.headers.ratelimit)).toEqual([
      expect.stringMatching(/^"3-in-1min"; r=2; t=\d+$/),
      expect.stringMatching(/r=1;/),
      expect.stringMatching(/r=0;/),
    ]);
    expect(ok[0]!.headers['x-ratelimit-limit']).toBeUndefined();

    const over = await list(3);
    expect(over.status).toBe(429);
    expect(over.body.error).toEqual({
      code: 'OVER_LIMIT',
      description: expect.stringMatching(/^rate limit: this tenant may make 3 requests per 60 s/),
    });
    expect(Number(over.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it("does not count one tenant's requests against another", async () => {
    expect((await list(0, 'alpha')).status).toBe(200);
  });
});
