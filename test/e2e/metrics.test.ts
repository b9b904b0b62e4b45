import request from 'supertest';
import type { RunningServer } from '../../src/server';
import { TEST_CALLBACK_TOKEN, TEST_WEBHOOK_SECRETS } from '../support/constants';
import { bearer, startTestGateway, tokenFor } from '../support/gateway';
import { openEventStream } from '../support/sse';
import { waitFor } from '../support/wait';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';

const METRICS_TOKEN = 'metrics-token-for-the-suite-0001';

describe('GET /metrics', () => {
  let gw: RunningServer;
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    gw = await startTestGateway({
      tenants: {
        alpha: {
          quota: { segmentsPerDay: 100 },
          webhook: { url: receiver.url, secret: TEST_WEBHOOK_SECRETS.alpha },
        },
      },
      webhooks: { allowPrivateTargets: [`127.0.0.1:${receiver.port}`] },
      metrics: { token: METRICS_TOKEN },
    });
  });
  afterAll(async () => {
    await gw.stop();
    await receiver.close();
  });

  const scrape = async () =>
    (
      await request(gw.url)
        .get('/metrics')
        .set({ Authorization: `Bearer ${METRICS_TOKEN}` })
    ).text;
  const value = (text: string, series: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };

  it('needs the metrics token when one is configured', async () => {
    expect((await request(gw.url).get('/metrics')).status).toBe(401);
    expect((await request(gw.url).get('/metrics').set({ Authorization: 'Bearer wrong' })).status).toBe(401);
  });

  it('exposes requests by route, provider calls, the budget, quotas, webhook attempts and SSE connections', async () => {
    const stream = await openEventStream(`${gw.url}/v1/events`, bearer(tokenFor('alpha')));
    const sent = await request(gw.url)
      .post('/v1/messages')
      .set(bearer(tokenFor('alpha')))
      .send({ to: '0412345678', text: 'measured' });
    expect(sent.status).toBe(201);
    const detail = await request(gw.url)
      .get(`/v1/messages/${sent.body.data.messages[0].id}`)
      .set(bearer(tokenFor('alpha')));
    await request(gw.url)
      .post(`/v1/callbacks/cellcast/${TEST_CALLBACK_TOKEN}/dlr`)
      .send([{ message_id: detail.body.data.providerMessageId, status: 'Delivered' }]);
    await waitFor(() => receiver.received.length === 1, 5000, 'the webhook');
    await gw.gateway.webhooks.runOnce();

    const text = await scrape();
    expect(value(text, 'smsgate_http_requests_total{method="POST",route="/v1/messages",status="201"}')).toBe(
      1,
    );
    expect(
      value(
        text,
        'smsgate_http_requests_total{method="POST",route="/v1/callbacks/cellcast/:token/dlr",status="200"}',
      ),
    ).toBe(1);
    expect(text).not.toContain(TEST_CALLBACK_TOKEN);
    expect(value(text, 'smsgate_provider_calls_total{endpoint="send-sms",outcome="ok"}')).toBe(1);
    // Every attempt is timed. On a stalled machine the budget may take back a slot granted too long
    // before the write ("budget slot too old"), and the send's call is attempted again: then there
    // are two attempts, one not ok, each timed and each granted its slot.
    const attempts = text
      .split('\n')
      .filter((l) => l.startsWith('smsgate_provider_calls_total{endpoint="send-sms",'))
      .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    expect(attempts).toBeGreaterThanOrEqual(1);
    expect(value(text, 'smsgate_provider_call_duration_seconds_count{endpoint="send-sms"}')).toBe(attempts);
    expect(value(text, 'smsgate_upstream_budget_queue_depth')).toBe(0);
    expect(value(text, 'smsgate_upstream_budget_wait_seconds_count{tenant="alpha"}')).toBeGreaterThanOrEqual(
      1,
    );
    expect(value(text, 'smsgate_upstream_budget_wait_seconds_count{tenant="alpha"}')).toBeLessThanOrEqual(
      attempts,
    );
    expect(value(text, 'smsgate_quota_used_segments{tenant="alpha",quota="segmentsPerDay"}')).toBe(1);
    expect(value(text, 'smsgate_quota_limit_segments{tenant="alpha",quota="segmentsPerDay"}')).toBe(100);
    expect(value(text, 'smsgate_webhook_attempts_total{outcome="delivered"}')).toBe(1);
    expect(value(text, 'smsgate_sse_connections')).toBe(1);
    expect(value(text, 'smsgate_process_resident_memory_bytes')).toBeGreaterThan(0);
    stream.close();
  });
});

describe('routes answered without the router (src/http/direct-routes.ts)', () => {
  let gw: RunningServer;
  beforeAll(async () => {
    gw = await startTestGateway({ metrics: { token: METRICS_TOKEN } });
  });
  afterAll(() => gw.stop());

  it('include the send, and answer it as the router does, counted under the same route', async () => {
    const stack = (gw.gateway.app.router as unknown as { stack: { handle: { keys?: readonly string[] } }[] })
      .stack;
    expect(stack[0]?.handle.keys).toEqual(expect.arrayContaining(['POST /v1/messages', 'GET /v1/messages']));

    // Express matches a path with a trailing slash too; the direct routes only as registered. So
    // /v1/messages/ crosses the router, /v1/messages does not, and both reach the same route.
    const send = (path: string) =>
      request(gw.url)
        .post(path)
        .set(bearer(tokenFor('alpha')))
        .send({ to: '0412345678', text: 'which way' });
    const [direct, routed] = [await send('/v1/messages'), await send('/v1/messages/')];
    const mask = (res: request.Response) => ({
      status: res.status,
      headers: Object.fromEntries(
        Object.entries(res.headers).filter(([name]) => !['x-request-id', 'date', 'ratelimit'].includes(name)),
      ),
      body: JSON.parse(res.text.replace(/"(id|createdAt)":"[^"]*"/g, '"$1":"…"')) as unknown,
    });
    expect(direct.status).toBe(201);
    expect(mask(routed)).toEqual(mask(direct));
    expect(Object.keys(routed.headers)).toEqual(Object.keys(direct.headers));

    const text = (
      await request(gw.url)
        .get('/metrics')
        .set({ Authorization: `Bearer ${METRICS_TOKEN}` })
    ).text;
    expect(text).toContain('smsgate_http_requests_total{method="POST",route="/v1/messages",status="201"} 2');
  });
});
