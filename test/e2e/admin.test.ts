import { createHash } from 'node:crypto';
import request from 'supertest';
import type { RunningServer } from '../../src/server';
import { TEST_APPKEY } from '../support/constants';
import { bearer, startTestGateway, tokenFor } from '../support/gateway';

const CLIENT_SECRET = 'alpha-backend-client-secret-0001';

describe('operator and team-backend routes', () => {
  let gw: RunningServer;
  beforeAll(async () => {
    gw = await startTestGateway({
      tenants: {
        alpha: {
          clients: [
            {
              id: 'alpha-backend',
              secretSha256: createHash('sha256').update(CLIENT_SECRET).digest('hex'),
              scopes: ['sms:read'],
            },
          ],
        },
      },
      inbound: { pollIntervalMs: 0 },
    });
    gw.sandbox!.configureCallbacks({ inbound: 'http://127.0.0.1:9/' });
    for (let i = 0; i < 30; i++)
      gw.sandbox!.injectInbound({ from: `+6141200${String(i).padStart(4, '0')}`, body: `reply ${i}` });
  });
  afterAll(() => gw.stop());

  const admin = bearer(tokenFor('ops', { scope: 'admin' }));

  it("GET /v1/admin/upstream/get-responses?page=2 returns the provider's body and page block unchanged, through the budget", async () => {
    const calls = gw.sandbox!.calls.length;
    const res = await request(gw.url).get('/v1/admin/upstream/get-responses?page=2').set(admin);
    expect(res.status).toBe(200);
    const direct = await request(gw.sandbox!.url)
      .get('/api/v3/get-responses?page=2&type=sms')
      .set({ APPKEY: TEST_APPKEY });
    expect(res.body.data).toEqual(direct.body);
    expect(res.body.page).toEqual(direct.body.data.page);
    expect(res.body.data.data.responses).toHaveLength(5);
    expect(gw.sandbox!.calls.slice(calls).map((c) => c.endpoint)).toEqual(['get-responses', 'get-responses']);
  });

  it('scrubs an APPKEY the provider echoes anywhere in a passed-through body', async () => {
    gw.sandbox!.setFaults({
      respondWith: { httpStatus: 200, status: 'SUCCESS', msg: `account of key ${TEST_APPKEY}`, times: 1 },
    });
    const echoed = await request(gw.url).get('/v1/admin/upstream/account').set(admin);
    expect(echoed.status).toBe(200);
    expect(echoed.text).not.toContain(TEST_APPKEY);
    expect(echoed.body.data.msg).toBe('account of key [REDACTED]');

    // An inbound SMS that quotes the key is provider data too (the newest, on the last page).
    gw.sandbox!.injectInbound({ from: '+61412009999', body: `my key is ${TEST_APPKEY}` });
    const inbox = await request(gw.url).get('/v1/admin/upstream/get-responses?page=2').set(admin);
    expect(inbox.status).toBe(200);
    expect(inbox.text).toContain('my key is [REDACTED]');
    expect(inbox.text).not.toContain(TEST_APPKEY);
  });

  it('only for admins, only the allowlisted reads, and a page that is a page', async () => {
    expect(
      (
        await request(gw.url)
          .get('/v1/admin/upstream/account')
          .set(bearer(tokenFor('alpha')))
      ).status,
    ).toBe(403);
    const write = await request(gw.url).get('/v1/admin/upstream/send-sms').set(admin);
    expect(write.status).toBe(404);
    expect(write.body.error.description).toMatch(
      /^endpoint: 'send-sms' is not one of account, get-responses/,
    );
    expect((await request(gw.url).get('/v1/admin/upstream/get-responses?page=abc').set(admin)).status).toBe(
      400,
    );
    const account = await request(gw.url).get('/v1/admin/upstream/account').set(admin);
    expect(account.status).toBe(200);
    expect(JSON.stringify(account.body)).not.toContain(TEST_APPKEY);
  });

  it('POST /v1/auth/token: client credentials → a token for the client’s tenant and scopes', async () => {
    const res = await request(gw.url)
      .post('/v1/auth/token')
      .type('form')
      .send({ grant_type: 'client_credentials', client_id: 'alpha-backend', client_secret: CLIENT_SECRET });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 900,
      scope: 'sms:read',
      error: { code: 'SUCCESS' },
    });
    const token = res.body.access_token as string;
    expect((await request(gw.url).get('/v1/messages').set(bearer(token))).status).toBe(200);
    expect(
      (await request(gw.url).post('/v1/messages').set(bearer(token)).send({ to: '0412345678', text: 'x' }))
        .status,
    ).toBe(403);

    const viaBasic = await request(gw.url)
      .post('/v1/auth/token')
      .auth('alpha-backend', CLIENT_SECRET)
      .type('form')
      .send({ grant_type: 'client_credentials' });
    expect(viaBasic.status).toBe(200);
  });

  it('refuses a wrong secret, an unknown client and another grant, and slows down guessing', async () => {
    const ask = (fields: Record<string, string>) =>
      request(gw.url).post('/v1/auth/token').type('form').send(fields);
    const grant = { grant_type: 'client_credentials' };
    expect((await ask({ ...grant, client_id: 'alpha-backend', client_secret: 'wrong' })).status).toBe(401);
    expect((await ask({ ...grant, client_id: 'nobody', client_secret: 'x' })).body.error).toEqual({
      code: 'AUTH_FAILED',
      description: 'client: unknown client or wrong secret',
    });
    expect((await ask({ grant_type: 'password' })).status).toBe(400);
    const statuses = [];
    for (let i = 0; i < 10; i++)
      statuses.push(
        (await ask({ ...grant, client_id: 'alpha-backend', client_secret: `guess-${i}` })).status,
      );
    expect(statuses.at(-1)).toBe(429);
  });
});
