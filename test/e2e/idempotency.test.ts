import request from 'supertest';
import type { RunningServer } from '../../src/server';
import { bearer, SHORT_UPSTREAM_TIMEOUT_MS, startTestGateway, tokenFor } from '../support/gateway';
import { ManualClock } from '../support/manual-clock';
import { waitFor } from '../support/wait';

describe('Idempotency-Key on POST /v1/messages', () => {
  const clock = new ManualClock(Date.now());
  let gw: RunningServer;
  beforeAll(async () => {
    gw = await startTestGateway({}, clock);
  });
  afterAll(() => gw.stop());

  const sends = () => gw.sandbox!.calls.filter((c) => c.endpoint === 'send-sms').length;
  const send = (key: string, body: object = { to: '0412345678', text: 'once only' }, tenant = 'alpha') =>
    request(gw.url)
      .post('/v1/messages')
      .set({ ...bearer(tokenFor(tenant)), 'Idempotency-Key': key })
      .send(body);

  it('same key and body: the first answer replayed byte for byte, with no second provider call', async () => {
    const before = sends();
    const first = await send('order-1001');
    const again = await send('order-1001');
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.text).toBe(first.text);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(sends()).toBe(before + 1);
  });

  it('same key with another body → 422 IDEMPOTENCY_MISMATCH, nothing sent', async () => {
    await send('order-1002');
    const before = sends();
    const other = await send('order-1002', { to: '0412345678', text: 'something else' });
    expect(other.status).toBe(422);
    expect(other.body.error).toEqual({
      code: 'IDEMPOTENCY_MISMATCH',
      description: 'Idempotency-Key: already used with a different request body',
    });
    expect(sends()).toBe(before);
  });

  it('20 concurrent requests with one key → exactly one provider send; the rest are replays or 409', async () => {
    gw.sandbox!.setFaults({ latencyMs: 150 });
    const before = sends();
    const answers = await Promise.all(Array.from({ length: 20 }, () => send('order-1003')));
    gw.sandbox!.setFaults({ latencyMs: 0 });
    expect(sends()).toBe(before + 1);
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 201).length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
    const conflict = answers.find((a) => a.status === 409);
    expect(conflict?.body.error.code).toBe('CONFLICT');
    const ids = new Set(answers.filter((a) => a.status === 201).map((a) => a.body.data.messages[0].id));
    expect(ids.size).toBe(1);
  });

  it("keys are per tenant: beta's request with alpha's key is its own", async () => {
    const before = sends();
    const alpha = await send('shared-key');
    const beta = await send('shared-key', { to: '0412345678', text: 'once only' }, 'beta');
    expect(beta.status).toBe(201);
    expect(beta.headers['idempotent-replayed']).toBeUndefined();
    expect(beta.body.data.messages[0].id).not.toBe(alpha.body.data.messages[0].id);
    expect(sends()).toBe(before + 2);
  });

  it('refuses malformed keys and accepts a structured-field string', async () => {
    expect((await send('x'.repeat(256))).status).toBe(400);
    const bad = await send('caf\u00e9');
    expect(bad.body.error).toEqual({
      code: 'FIELD_INVALID',
      description: 'Idempotency-Key: expected 1–255 printable ASCII characters',
    });
    const quoted = await send('"order-1004"');
    const bare = await send('order-1004');
    expect(bare.headers['idempotent-replayed']).toBe('true');
    expect(bare.text).toBe(quoted.text);
  });

  it('a key is new again after its retention (24 h)', async () => {
    await send('order-1005');
    const before = sends();
    clock.advance(86_400_000 + 1000);
    const later = await send('order-1005');
    expect(later.status).toBe(201);
    expect(later.headers['idempotent-replayed']).toBeUndefined();
    expect(sends()).toBe(before + 1);
  });

  it('sweeps expired keys from the store without waiting for their reuse', async () => {
    await send('order-sweep-1');
    await send('order-sweep-2');
    const kept = () =>
      gw.db
        .selectFrom('idempotency_keys')
        .select('key')
        .where('key', 'in', ['order-sweep-1', 'order-sweep-2'])
        .execute();
    expect(await kept()).toHaveLength(2);
    // Past the retention (24 h), the sweep (every 5 min by default, timed from the end of the
    // last one) deletes both: the clock is moved on one interval at a time until it has.
    clock.advance(86_400_000);
    await waitFor(
      async () => {
        clock.advance(300_000);
        return (await kept()).length === 0;
      },
      5000,
      'the sweep',
    );
  });

  it('forgets the key when the provider refused the send (502), so the retry goes out', async () => {
    gw.sandbox!.setFaults({
      respondWith: { httpStatus: 500, status: 'SERVER_ERROR', msg: 'boom', times: 1 },
    });
    const failed = await send('order-1006');
    expect(failed.status).toBe(502);
    gw.sandbox!.setFaults({ respondWith: null });
    const before = sends();
    const retried = await send('order-1006');
    expect(retried.status).toBe(201);
    expect(sends()).toBe(before + 1);
  });
});

describe('Idempotency-Key when the outcome is unknown', () => {
  let gw: RunningServer;
  beforeAll(async () => {
    gw = await startTestGateway({ upstream: { timeoutMs: SHORT_UPSTREAM_TIMEOUT_MS } });
  });
  afterAll(() => gw.stop());

  it('a provider timeout (504) is kept: the retry replays it instead of sending again', async () => {
    const send = () =>
      request(gw.url)
        .post('/v1/messages')
        .set({ ...bearer(tokenFor('alpha')), 'Idempotency-Key': 'order-2001' })
        .send({ to: '0412345678', text: 'maybe sent' });
    gw.sandbox!.setFaults({ hang: true });
    const first = await send();
    gw.sandbox!.setFaults({ hang: false });
    expect(first.status).toBe(504);
    const calls = gw.sandbox!.calls.length;
    const retry = await send();
    expect(retry.status).toBe(504);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(gw.sandbox!.calls.length).toBe(calls);
  });
});
