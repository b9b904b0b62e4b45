import request from 'supertest';
import type { RunningServer } from '../../src/server';
import { TEST_CALLBACK_TOKEN } from '../support/constants';
import { bearer, startTestGateway, tokenFor } from '../support/gateway';
import { openEventStream } from '../support/sse';
import { waitFor } from '../support/wait';

const ALPHA_APP = 'https://app.alpha.example';
const BETA_APP = 'http://127.0.0.1:5173';
const NOBODY = 'https://evil.example';

describe('CORS for the API and the event stream, per tenant', () => {
  let gw: RunningServer;
  beforeAll(async () => {
    gw = await startTestGateway({
      tenants: {
        alpha: { cors: { allowedOrigins: [ALPHA_APP], maxAgeSec: 300 } },
        beta: { cors: { allowedOrigins: [BETA_APP] } },
      },
      inbound: { rules: [{ keyword: 'alpha', tenant: 'alpha' }] },
    });
  });
  afterAll(() => gw.stop());

  const preflight = (origin: string, path = '/v1/messages', method = 'POST') =>
    request(gw.url)
      .options(path)
      .set('Origin', origin)
      .set('Access-Control-Request-Method', method)
      .set('Access-Control-Request-Headers', 'authorization,content-type,idempotency-key');

  it('answers a preflight from a listed origin before authentication: 204 and the grant', async () => {
    const res = await preflight(ALPHA_APP);
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(ALPHA_APP);
    expect(res.headers['access-control-allow-headers']).toBe(
      'Authorization,Content-Type,Idempotency-Key,Prefer,Last-Event-ID',
    );
    expect(res.headers['access-control-allow-methods']).toContain('POST');
    expect(res.headers['access-control-max-age']).toBe('300');
    expect(res.headers.vary).toMatch(/Origin/);
    // Any tenant's origin passes a preflight: it carries no token, so no tenant.
    const beta = await preflight(BETA_APP, '/v1/events', 'GET');
    expect(beta.status).toBe(204);
    expect(beta.headers['access-control-allow-origin']).toBe(BETA_APP);
  });

  it('gives no grant to an origin no tenant lists: never *, never the origin echoed', async () => {
    const res = await preflight(NOBODY);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(res.headers.vary).toMatch(/Origin/);
    const real = await request(gw.url)
      .get('/v1/messages')
      .set('Origin', NOBODY)
      .set(bearer(tokenFor('alpha')));
    expect(real.status).toBe(200);
    expect(real.headers['access-control-allow-origin']).toBeUndefined();
    expect(real.headers['cross-origin-resource-policy']).toBe('same-origin');
  });

  it('grants a real request only when the token’s own tenant lists the origin', async () => {
    const own = await request(gw.url)
      .get('/v1/messages')
      .set('Origin', ALPHA_APP)
      .set(bearer(tokenFor('alpha')));
    expect(own.status).toBe(200);
    expect(own.headers['access-control-allow-origin']).toBe(ALPHA_APP);
    expect(own.headers['access-control-expose-headers']).toBe(
      'RateLimit, RateLimit-Policy, Retry-After, Idempotent-Replayed, Preference-Applied',
    );
    expect(own.headers['cross-origin-resource-policy']).toBe('cross-origin');
    expect(own.headers.vary).toMatch(/Origin/);

    // BETA_APP is listed, but by beta only: alpha's token gets no grant from it.
    const other = await request(gw.url)
      .get('/v1/messages')
      .set('Origin', BETA_APP)
      .set(bearer(tokenFor('alpha')));
    expect(other.status).toBe(200);
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    expect(other.headers['access-control-expose-headers']).toBeUndefined();
    expect(other.headers['cross-origin-resource-policy']).toBe('same-origin');
  });

  it('gives the same CORS to a path in another case, which Express serves as the same route', async () => {
    const res = await preflight(ALPHA_APP, '/V1/Messages');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(ALPHA_APP);
    const real = await request(gw.url)
      .get('/V1/MESSAGES')
      .set('Origin', ALPHA_APP)
      .set(bearer(tokenFor('alpha')));
    expect(real.status).toBe(200);
    expect(real.headers['access-control-allow-origin']).toBe(ALPHA_APP);
    expect(real.headers['cross-origin-resource-policy']).toBe('cross-origin');
  });

  it('lets a listed origin read a 401, so the page knows to sign in again', async () => {
    const res = await request(gw.url).get('/v1/messages').set('Origin', BETA_APP);
    expect(res.status).toBe(401);
    expect(res.headers['access-control-allow-origin']).toBe(BETA_APP);
  });

  it('leaves the forms’ own CORS alone', async () => {
    const res = await request(gw.url)
      .options('/v1/forms/none')
      .set('Origin', ALPHA_APP)
      .set('Access-Control-Request-Method', 'POST');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('EventSource from a listed origin: ticket (after its preflight) and stream are both readable', async () => {
    const pre = await preflight(ALPHA_APP, '/v1/events/tickets');
    expect(pre.status).toBe(204);
    const ticket = await request(gw.url)
      .post('/v1/events/tickets')
      .set('Origin', ALPHA_APP)
      .set(bearer(tokenFor('alpha')));
    expect(ticket.status).toBe(201);
    expect(ticket.headers['access-control-allow-origin']).toBe(ALPHA_APP);
    const url = (ticket.body as { data: { url: string } }).data.url;

    const stream = await openEventStream(`${gw.url}${url}`, { Origin: ALPHA_APP });
    expect(stream.status).toBe(200);
    expect(stream.response.headers['access-control-allow-origin']).toBe(ALPHA_APP);
    expect(stream.response.headers['cross-origin-resource-policy']).toBe('cross-origin');
    await request(gw.url)
      .post(`/v1/callbacks/cellcast/${TEST_CALLBACK_TOKEN}/inbound`)
      .send([{ message_id: `IN-cors-${Date.now()}`, from: '61412345678', body: 'alpha hello' }])
      .expect(200);
    await waitFor(() => stream.events.length === 1, 3000, 'the event');
    stream.close();

    // beta's origin gets no grant on alpha's stream.
    const again = await request(gw.url)
      .post('/v1/events/tickets')
      .set(bearer(tokenFor('alpha')));
    const foreign = await openEventStream(`${gw.url}${(again.body as { data: { url: string } }).data.url}`, {
      Origin: BETA_APP,
    });
    expect(foreign.status).toBe(200);
    expect(foreign.response.headers['access-control-allow-origin']).toBeUndefined();
    foreign.close();
  });
});
