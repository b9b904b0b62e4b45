import { randomBytes } from 'node:crypto';
import request from 'supertest';
import type { RunningServer } from '../../src/server';
import { bearer, startTestGateway, tokenFor } from '../support/gateway';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PER_USER = 37;
const app = {
  scopes: ['sms:send', 'sms:read', 'sms:read:all'],
  allowedCountries: ['AU'],
  rateLimit: { requests: 1000, windowSec: 60 },
  perUser: { rateLimit: { requests: PER_USER, windowSec: 60 }, quota: { segmentsPerDay: 2 } },
};

const user = (sub: string) => tokenFor('app', { scope: 'sms:send sms:read', extra: { sub } });

// The same cases with in-memory counters and with counters in Redis shared by two replicas.
describe.each([
  ['in memory', false],
  ['in Redis, across two replicas', true],
])('per-user limits inside the tenant’s, %s', (_name, shared) => {
  let replicas: RunningServer[];
  beforeAll(async () => {
    const overrides = {
      tenants: { app },
      ...(shared ? { redis: { url: REDIS_URL, keyPrefix: `test-${randomBytes(6).toString('hex')}` } } : {}),
    };
    replicas = shared
      ? await Promise.all([startTestGateway(overrides), startTestGateway(overrides)])
      : [await startTestGateway(overrides)];
  });
  afterAll(() => Promise.all(replicas.map((r) => r.stop())));

  const url = (i: number) => replicas[i % replicas.length]!.url;
  const list = (token: string, i: number) => request(url(i)).get('/v1/messages').set(bearer(token));

  it(`admits exactly ${PER_USER} of 200 concurrent requests from one user; another user is unaffected`, async () => {
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => list(user('alice'), i)));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(PER_USER);
    expect(statuses.filter((s) => s === 429)).toHaveLength(200 - PER_USER);
    const refused = answers.find((r) => r.status === 429)!;
    expect(refused.body.error.description).toMatch(
      /^rate limit: each user of this tenant may make 37 requests/,
    );

    const bob = await Promise.all(Array.from({ length: PER_USER }, (_, i) => list(user('bob'), i)));
    expect(bob.map((r) => r.status)).toEqual(Array.from({ length: PER_USER }, () => 200));

    // Refused requests cost the tenant nothing: 37 + 37 counted, plus this usage call.
    const usage = await request(url(0))
      .get('/v1/usage')
      .set(bearer(user('carol')));
    expect(usage.status).toBe(200);
    expect(usage.body.data.rateLimit).toMatchObject({ requests: 1000, used: 2 * PER_USER + 1 });
    expect(usage.body.data.user).toMatchObject({
      subject: 'carol',
      rateLimit: { requests: PER_USER, windowSec: 60, used: 1, remaining: PER_USER - 1 },
      quotas: [{ name: 'segmentsPerDay', limit: 2, used: 0, remaining: 2 }],
    });
    // A backend's token (sms:read:all) has no per-user limits.
    const backend = await request(url(0))
      .get('/v1/usage')
      .set(bearer(tokenFor('app', { scope: 'sms:read:all', extra: { sub: 'client:crm' } })));
    expect(backend.body.data.user).toBeNull();
  });

  it("refuses a send over the user's own segment quota; the tenant's other users still send", async () => {
    // Quotas are counted in the store (each test replica has its own SQLite): one replica here.
    const send = (sub: string) =>
      request(url(0))
        .post('/v1/messages')
        .set(bearer(user(sub)))
        .send({ to: '0412345678', text: 'hi' });
    expect((await send('dave')).status).toBe(201);
    expect((await send('dave')).status).toBe(201);
    const over = await send('dave');
    expect(over.status).toBe(429);
    expect(over.body.error.description).toMatch(/^quota: this user's segmentsPerDay is 2 segments, 2 used/);
    expect((await send('erin')).status).toBe(201);
    const usage = await request(url(0))
      .get('/v1/usage')
      .set(bearer(user('dave')));
    expect(usage.body.data.user.quotas).toEqual([expect.objectContaining({ used: 2, remaining: 0 })]);
  });
});
