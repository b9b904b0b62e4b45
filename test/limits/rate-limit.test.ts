import { randomBytes } from 'node:crypto';
import request from 'supertest';
import type { RunningServer } from '../../src/server';
import { bearer, startTestGateway, tokenFor } from '../support/gateway';
import { captured } from '../support/leak-guard';
import { startRedisProxy, type RedisProxy } from '../support/redis-proxy';
import { waitFor } from '../support/wait';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const limited = {
  scopes: ['sms:send', 'sms:read'],
  allowedCountries: ['AU'],
  rateLimit: { requests: 3, windowSec: 60 },
};
const counted = { ...limited, rateLimit: { requests: 10, windowSec: 60 } };

// The same cases run with in-memory counters and with counters in Redis shared by two replicas.
describe.each([
  ['in memory', false],
  ['in Redis, across two replicas', true],
])('per-tenant request rate, %s', (_name, shared) => {
  let replicas: RunningServer[];

  beforeAll(async () => {
    const overrides = {
      tenants: { limited, counted },
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

  it('GET /v1/usage reports the rate limit used, remaining and reset, counted wherever the requests went', async () => {
    for (let i = 0; i < 3; i++) expect((await list(i, 'counted')).status).toBe(200);
    const before = Date.now();
    const usage = await request(replicas[1 % replicas.length]!.url)
      .get('/v1/usage')
      .set(bearer(tokenFor('counted')));
    expect(usage.status).toBe(200);
    // The usage request is a request too: the fourth.
    expect(usage.body.data.rateLimit).toEqual({
      requests: 10,
      windowSec: 60,
      used: 4,
      remaining: 6,
      resetsAt: expect.any(String),
    });
    const resetsAt = Date.parse(usage.body.data.rateLimit.resetsAt as string);
    expect(resetsAt).toBeGreaterThan(before);
    expect(resetsAt).toBeLessThanOrEqual(Date.now() + 60_000);
    expect(Number(usage.headers.ratelimit?.match(/r=(\d+)/)?.[1])).toBe(6);

    // Admins see every tenant's counter; reading it counts nothing.
    const admin = await request(replicas[0]!.url)
      .get('/v1/admin/usage')
      .set(bearer(tokenFor('ops', { scope: 'admin' })));
    const byTenant = new Map(
      (admin.body.data as { tenant: string; rateLimit: unknown }[]).map((u) => [u.tenant, u.rateLimit]),
    );
    expect(byTenant.get('counted')).toMatchObject({ used: 4, remaining: 6 });
    expect(byTenant.get('beta')).toEqual({
      requests: 300,
      windowSec: 60,
      used: 0,
      remaining: 300,
      resetsAt: null,
    });
  });
});

describe('per-tenant request rate while Redis is unreachable', () => {
  let gw: RunningServer;
  let proxy: RedisProxy;

  beforeAll(async () => {
    proxy = await startRedisProxy();
    gw = await startTestGateway(throughProxy());
  });
  const throughProxy = () => ({
    tenants: { limited },
    redis: {
      url: proxy.url,
      keyPrefix: `test-${randomBytes(6).toString('hex')}`,
    },
  });
  afterAll(async () => {
    await gw.stop();
    await proxy.close();
  });

  it('lets requests through, logs one line through the logger and prints nothing to the console', async () => {
    const list = () =>
      request(gw.url)
        .get('/v1/messages')
        .set(bearer(tokenFor('limited')));
    expect((await list()).status).toBe(200);
    const consoleError = jest.spyOn(console, 'error');
    const consoleWarn = jest.spyOn(console, 'warn');
    const logsBefore = captured.logLines.length;
    try {
      proxy.cut();
      // Fail open: over the limit of 3 by now, and still let through, since nothing counts.
      const during = [];
      for (let i = 0; i < 5; i++) during.push((await list()).status);
      expect(during).toEqual([200, 200, 200, 200, 200]);
      const usage = await request(gw.url)
        .get('/v1/usage')
        .set(bearer(tokenFor('limited')));
      expect(usage.status).toBe(200);
      expect(usage.body.data.rateLimit).toEqual({
        requests: 3,
        windowSec: 60,
        used: null,
        remaining: null,
        resetsAt: null,
      });

      expect(consoleError).not.toHaveBeenCalled();
      expect(consoleWarn).not.toHaveBeenCalled();
      const lines = captured.logLines
        .slice(logsBefore)
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((entry) => entry.event === 'rate_limit.store_unavailable');
      // One line for the tenant rate limits. The form limits keep their own connection and report
      // their own outage when one of their commands is in flight (on a busy machine, the script
      // loads of their start-up can still be), so only this limiter's lines are counted.
      const tenantLines = lines.filter((entry) => entry.limits === 'tenant rate limits');
      expect(tenantLines).toHaveLength(1);
      expect(lines.filter((entry) => entry.limits !== 'form limits')).toEqual(tenantLines);
      expect(tenantLines[0]).toMatchObject({
        level: 40,
        msg: expect.stringMatching(/rate limit.*not counted/),
      });
      expect(JSON.stringify(lines)).not.toMatch(/\\n\s+at /);
    } finally {
      proxy.restore();
      consoleError.mockRestore();
      consoleWarn.mockRestore();
    }
  }, 30_000);

  it('counts again once Redis answers, even when it was unreachable when the gateway started', async () => {
    proxy.cut();
    const late = await startTestGateway(throughProxy());
    try {
      const list = () =>
        request(late.url)
          .get('/v1/messages')
          .set(bearer(tokenFor('limited')));
      expect((await list()).status).toBe(200);
      proxy.restore();
      // The usage read is counted too: once Redis answers, it reports a count.
      const used = await waitFor(
        async () => {
          const usage = await request(late.url)
            .get('/v1/usage')
            .set(bearer(tokenFor('limited')));
          return (usage.body.data.rateLimit.used as number | null) ?? undefined;
        },
        10_000,
        'the counters to be read from Redis again',
      );
      expect(used).toBeGreaterThanOrEqual(1);
      const statuses: number[] = [];
      for (let i = used; i <= 3; i++) statuses.push((await list()).status);
      expect(statuses.at(-1)).toBe(429);
      expect(statuses.slice(0, -1).every((status) => status === 200)).toBe(true);
    } finally {
      proxy.restore();
      await late.stop();
    }
  }, 30_000);
});
