import request from 'supertest';
import type { RunningServer } from '../../src/server';
import { bearer, startTestGateway, tokenFor } from '../support/gateway';

const send = (gw: RunningServer, tenant: string, body: object) =>
  request(gw.url)
    .post('/v1/messages')
    .set(bearer(tokenFor(tenant)))
    .send(body);

describe('segment quotas', () => {
  let gw: RunningServer;
  beforeAll(async () => {
    gw = await startTestGateway({
      tenants: {
        metered: {
          scopes: ['sms:send', 'sms:read'],
          allowedCountries: ['AU'],
          quota: { segmentsPerDay: 10, segmentsPerMonth: 100 },
        },
        racer: { scopes: ['sms:send'], allowedCountries: ['AU'], quota: { segmentsPerDay: 10 } },
      },
      upstream: { maxQueueWaitMs: 10_000 },
    });
  });
  afterAll(() => gw.stop());
  beforeEach(() => gw.sandbox!.reset());

  const usage = async (tenant: string) =>
    (
      await request(gw.url)
        .get('/v1/usage')
        .set(bearer(tokenFor(tenant)))
    ).body.data;

  it('counts recipients x segments, reports usage, and refuses the send that would go over, naming the quota and its reset', async () => {
    expect((await send(gw, 'metered', { to: '0412345678', text: 'x'.repeat(400) })).status).toBe(201); // 3 segments
    expect(
      (await send(gw, 'metered', { to: ['0412345670', '0412345671', '0412345672'], text: 'hi' })).status,
    ).toBe(201); // 3 x 1
    const now = await usage('metered');
    expect(now.quotas).toEqual([
      {
        name: 'segmentsPerDay',
        limit: 10,
        used: 6,
        remaining: 4,
        resetsAt: expect.stringMatching(/T1[34]:00:00\.000Z$/),
      },
      { name: 'segmentsPerMonth', limit: 100, used: 6, remaining: 94, resetsAt: expect.any(String) },
    ]);
    // Two sends and this read so far.
    expect(now.rateLimit).toEqual({
      requests: 300,
      windowSec: 60,
      used: 3,
      remaining: 297,
      resetsAt: expect.any(String),
    });

    const over = await send(gw, 'metered', {
      to: ['0412345673', '0412345674', '0412345675', '0412345676', '0412345677'],
      text: 'hi',
    });
    expect(over.status).toBe(429);
    expect(over.body.error).toEqual({
      code: 'OVER_LIMIT',
      description: `quota: segmentsPerDay is 10 segments, 6 used, this send needs 5; resets at ${now.quotas[0].resetsAt}`,
    });
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
    expect(gw.sandbox!.calls.filter((c) => c.endpoint === 'send-sms')).toHaveLength(2);
    expect((await usage('metered')).quotas[0].used).toBe(6);
  });

  it('gives the segments back when the provider refuses the send', async () => {
    const before = (await usage('metered')).quotas[0].used;
    gw.sandbox!.setFaults({ respondWith: { httpStatus: 400, status: 'FIELD_INVALID', msg: 'no' } });
    expect((await send(gw, 'metered', { to: '0412345678', text: 'hi' })).status).toBe(502);
    expect((await usage('metered')).quotas[0].used).toBe(before);
  });

  it('never overshoots under a race: 50 concurrent sends against room for 10 → exactly 10 succeed', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => send(gw, 'racer', { to: '0412345678', text: `race ${i}` })),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(40);
    expect(gw.sandbox!.calls.filter((c) => c.endpoint === 'send-sms' && c.status === 200)).toHaveLength(10);
    expect((await usage('racer')).quotas[0]).toMatchObject({ used: 10, remaining: 0 });
  });

  it('shows every tenant to admins only', async () => {
    const admin = await request(gw.url)
      .get('/v1/admin/usage')
      .set(bearer(tokenFor('ops', { scope: 'admin' })));
    expect(admin.status).toBe(200);
    expect(admin.body.data.map((u: { tenant: string }) => u.tenant)).toEqual([
      'demo',
      'ops',
      'alpha',
      'beta',
      'metered',
      'racer',
    ]);
    const denied = await request(gw.url)
      .get('/v1/admin/usage')
      .set(bearer(tokenFor('metered')));
    expect(denied.status).toBe(403);
  });
});
