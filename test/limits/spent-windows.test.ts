import express from 'express';
import pino from 'pino';
import request from 'supertest';
import type { Identity } from '../../src/auth';
import { parseConfig } from '../../src/config';
import { errorHandler } from '../../src/http';
import { createTenantRateLimit, type TenantRateLimit } from '../../src/limits';

// The spent windows the refusals before Express rely on: remembered when the limiter refuses,
// until the window's reset, per tenant and per end user with a limit of their own.

const identity = (tenantId: string, endUser?: string): Identity => ({
  tenantId,
  scopes: ['sms:send'],
  subject: endUser,
  endUser,
});

describe('spent windows of the tenant rate limit', () => {
  let limit: TenantRateLimit;
  let app: express.Express;
  beforeEach(() => {
    const config = parseConfig(
      {
        tenants: {
          solo: { rateLimit: { requests: 2, windowSec: 60 } },
          users: {
            rateLimit: { requests: 3, windowSec: 60 },
            perUser: { rateLimit: { requests: 1, windowSec: 60 } },
          },
        },
      },
      { requireAppKey: false },
    );
    limit = createTenantRateLimit({
      tenants: config.tenants,
      keyPrefix: 'test',
      logger: pino({ level: 'silent' }),
    });
    app = express();
    app.use((req, _res, next) => {
      req.user = identity(req.get('x-tenant') ?? '', req.get('x-user'));
      next();
    });
    app.use(limit.middleware);
    app.get('/', (_req, res) => void res.json({}));
    app.use(errorHandler(pino({ level: 'silent' })));
  });
  afterEach(() => limit.close());

  const call = (tenant: string, user?: string) =>
    request(app)
      .get('/')
      .set({ 'x-tenant': tenant, ...(user ? { 'x-user': user } : {}) });

  it("knows a tenant's window is spent from its first refusal until the reset, and tells its listeners", async () => {
    const heard: string[] = [];
    limit.onRefusal((_req, _res, window) => heard.push(window.key));
    expect([(await call('solo')).status, (await call('solo')).status]).toEqual([200, 200]);
    expect(limit.anySpent(Date.now())).toBe(false);
    expect(limit.spentWindow(identity('solo'), Date.now())).toBeUndefined();
    expect((await call('solo')).status).toBe(429);
    const window = limit.spentWindow(identity('solo'), Date.now());
    expect(window).toMatchObject({
      key: 'rate:solo:solo',
      description: expect.stringMatching(/^rate limit: this tenant may make 2 requests per 60 s/),
    });
    expect(heard).toEqual(['rate:solo:solo']);
    expect(limit.anySpent(Date.now())).toBe(true);
    expect(limit.spentWindow(identity('solo'), window!.untilMs - 1)).toBe(window);
    expect(limit.spentWindow(identity('solo'), window!.untilMs)).toBeUndefined();
    expect(limit.anySpent(window!.untilMs + 1000)).toBe(false);
  });

  it("judges an end user with a limit of their own by it alone: the tenant's spent window is left to the limiter", async () => {
    expect((await call('users', 'u-1')).status).toBe(200);
    expect((await call('users', 'u-1')).status).toBe(429);
    expect(limit.spentWindow(identity('users', 'u-1'), Date.now())).toMatchObject({
      key: 'rate-user:users:u-1',
      description: expect.stringMatching(/^rate limit: each user of this tenant may make 1 requests/),
    });
    expect(limit.spentWindow(identity('users', 'u-2'), Date.now())).toBeUndefined();
    // u-1's refusal cost the tenant nothing: u-2 and u-3 spend its 3, u-4 is refused by the tenant.
    expect([(await call('users', 'u-2')).status, (await call('users', 'u-3')).status]).toEqual([200, 200]);
    expect((await call('users', 'u-4')).status).toBe(429);
    expect(limit.spentWindow(identity('users'), Date.now())).toMatchObject({ key: 'rate:users:users' });
    // The tenant's window is spent, but u-5's request still counts against u-5's own limit first.
    expect(limit.spentWindow(identity('users', 'u-5'), Date.now())).toBeUndefined();
  });
});
