import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { createSandbox, type Sandbox } from '../../src/sandbox';
import { ManualClock } from '../support/manual-clock';

/** Runs each timer 1 ms before it is due (never sooner than 1 ms), as setTimeout may against Date.now(). */
class EarlyFiringClock extends ManualClock {
  override schedule(fn: () => void, ms: number): () => void {
    return super.schedule(fn, ms > 1 ? ms - 1 : ms);
  }
}

const KEY = 'sandbox-test-key-0001';

describe('the provider sandbox', () => {
  let clock: ManualClock;
  let sandbox: Sandbox;
  let receiver: Server;
  let received: unknown[] = [];
  let receiverUrl = '';

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push(JSON.parse(body));
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
  });

  beforeEach(async () => {
    clock = new ManualClock();
    received = [];
    sandbox = createSandbox({
      appKeys: [KEY],
      callsPerSecond: 15,
      pageSize: 25,
      dlrDelayMs: 2000,
      clock,
      dlrCallbackUrl: `${receiverUrl}/dlr`,
      inboundCallbackUrl: `${receiverUrl}/inbound`,
    });
    await sandbox.start();
  });
  afterEach(() => sandbox.stop());

  const api = () => request(sandbox.url);
  const send = (body: object) => api().post('/api/v3/send-sms').set('APPKEY', KEY).send(body);

  it('checks the APPKEY: missing → 401 AUTH_FAILED_NO_DATA, wrong → 401 AUTH_FAILED', async () => {
    const missing = await api().get('/api/v3/account');
    expect(missing.status).toBe(401);
    expect(missing.body).toEqual({
      meta: { code: 401, status: 'AUTH_FAILED_NO_DATA' },
      msg: 'APPKEY header is missing',
      data: [],
    });
    const wrong = await api().get('/api/v3/account').set('APPKEY', 'nope');
    expect(wrong.body).toEqual({
      meta: { code: 401, status: 'AUTH_FAILED' },
      msg: 'APPKEY you have provided is invalid',
      data: [],
    });
  });

  it('refuses the 16th call inside one rolling second with 429 OVER_LIMIT, and admits it once the second has passed', async () => {
    for (let i = 0; i < 15; i++) {
      expect((await api().get('/api/v3/account').set('APPKEY', KEY)).status).toBe(200);
      clock.advance(10);
    }
    const sixteenth = await api().get('/api/v3/account').set('APPKEY', KEY);
    expect(sixteenth.status).toBe(429);
    expect(sixteenth.body).toMatchObject({ meta: { code: 429, status: 'OVER_LIMIT' }, data: [] });
    clock.advance(849); // 999 ms after the first call: still inside its second
    expect((await api().get('/api/v3/account').set('APPKEY', KEY)).status).toBe(429);
    clock.advance(2); // the first call is now more than a second old
    expect((await api().get('/api/v3/account').set('APPKEY', KEY)).status).toBe(200);
  });

  it('is a sliding window, not a fixed one: 15 calls at the end of a second and 15 at the start of the next are not all admitted', async () => {
    clock.advance(990);
    for (let i = 0; i < 15; i++) await api().get('/api/v3/account').set('APPKEY', KEY);
    clock.advance(20);
    const next = await api().get('/api/v3/account').set('APPKEY', KEY);
    expect(next.status).toBe(429);
  });

  it('sends SMS with upper-case 8-4-4-4-12 ids, numbers echoed without +, and string-free counts', async () => {
    const res = await send({
      sms_text: 'Hello',
      numbers: ['+61412345678', '0412345679'],
      custom_string: 'b-1',
    });
    expect(res.status).toBe(200);
    expect(res.body.meta).toEqual({ code: 200, status: 'SUCCESS' });
    expect(res.body.data).toMatchObject({ total_numbers: 2, success_number: 2, credits_used: 2 });
    expect(res.body.data.messages[0]).toMatchObject({
      to: '61412345678',
      from: '61447023680',
      custom_string: 'b-1',
      direction: 'out',
    });
    expect(res.body.data.messages[0].message_id).toMatch(
      /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/,
    );
    expect(res.body.data.messages[0].date).toBe('2026-11-25 11:00:00');
  });

  it.each([
    ['no sms_text', { numbers: ['0412345678'] }, 'FIELD_EMPTY'],
    ['no numbers', { sms_text: 'hi' }, 'FIELD_EMPTY'],
    [
      '1001 numbers',
      { sms_text: 'hi', numbers: Array.from({ length: 1001 }, () => '0412345678') },
      'RECIPIENTS_ERROR',
    ],
    ['no valid number', { sms_text: 'hi', numbers: ['12'] }, 'RECIPIENTS_ERROR'],
    ['919 GSM characters', { sms_text: 'a'.repeat(919), numbers: ['0412345678'] }, 'FIELD_INVALID'],
    ['403 Unicode characters', { sms_text: 'ж'.repeat(403), numbers: ['0412345678'] }, 'FIELD_INVALID'],
    [
      'an illegal sender id',
      { sms_text: 'hi', numbers: ['0412345678'], from: 'TwelveChars!' },
      'FIELD_INVALID',
    ],
    [
      'a 12-character sender id',
      { sms_text: 'hi', numbers: ['0412345678'], from: 'ABCDEFGHIJKL' },
      'FIELD_INVALID',
    ],
    [
      'a schedule_time that is no real date',
      { sms_text: 'hi', numbers: ['0412345678'], schedule_time: '2026-02-30 10:00:00' },
      'FIELD_INVALID',
    ],
    [
      'a custom_string with spaces',
      { sms_text: 'hi', numbers: ['0412345678'], custom_string: 'no spaces' },
      'FIELD_INVALID',
    ],
  ])('validates send-sms like the provider: %s', async (_label, body, status) => {
    const res = await send(body);
    expect(res.status).toBe(400);
    expect(res.body.meta.status).toBe(status);
  });

  it('POSTs delivery reports as a JSON array of final statuses after the configured delay', async () => {
    const res = await send({
      sms_text: 'Hello',
      numbers: ['0412345678', '0412345679'],
      custom_string: 'b-7',
    });
    const ids = res.body.data.messages.map((m: { message_id: string }) => m.message_id);
    clock.advance(1999);
    await sandbox.flushDueReports();
    expect(received).toEqual([]);
    clock.advance(1);
    await waitFor(() => received.length === 1);
    expect(received[0]).toEqual(
      ids.map((id: string, i: number) => ({
        message_id: id,
        status: 'Delivered',
        recipient: `6141234567${8 + i}`,
        custom_string: 'b-7',
        source: '',
      })),
    );
    const status = await api().get(`/api/v3/get-sms?message_id=${ids[0]}`).set('APPKEY', KEY);
    expect(status.body.data).toEqual([
      expect.objectContaining({ message_id: ids[0], status: 'Delivered', to: '61412345678' }),
    ]);
  });

  it('holds the delivery report of a message with schedule_time until the scheduled time (provider timezone) has passed', async () => {
    // The clock reads 2026-11-25 11:00:00 in Sydney (AEDT, UTC+11): this is one hour ahead.
    const res = await send({
      sms_text: 'Later',
      numbers: ['0412345678'],
      schedule_time: '2026-11-25 12:00:00',
    });
    expect(res.status).toBe(200);
    const id = res.body.data.messages[0].message_id as string;
    // A report is taken as sent the moment its message's final status is set (the POST follows).
    const statusOf = (messageId: string) => sandbox.sent.get(messageId)?.status;
    clock.advance(2000);
    await sandbox.flushDueReports();
    expect(statusOf(id)).toBe('Queued');
    clock.advance(3_600_000 - 1);
    await sandbox.flushDueReports();
    expect(statusOf(id)).toBe('Queued');
    expect(received).toEqual([]);
    clock.advance(1);
    await waitFor(() => received.length === 1);
    expect(received[0]).toEqual([expect.objectContaining({ message_id: id, status: 'Delivered' })]);
    const status = await api().get(`/api/v3/get-sms?message_id=${id}`).set('APPKEY', KEY);
    expect(status.body.data[0]).toMatchObject({ sent_time: '2026-11-25 12:00:00', status: 'Delivered' });
  });

  it('sends a schedule_time already past at once, and adds delay to a schedule_time', async () => {
    const past = await send({
      sms_text: 'Now',
      numbers: ['0412345678'],
      schedule_time: '2026-11-25 10:00:00',
    });
    const later = await send({
      sms_text: 'Later',
      numbers: ['0412345679'],
      schedule_time: '2026-11-25 11:30:00',
      delay: 10,
    });
    const laterId = later.body.data.messages[0].message_id as string;
    clock.advance(2000);
    await waitFor(() => received.length === 1);
    expect(received[0]).toEqual([
      expect.objectContaining({ message_id: past.body.data.messages[0].message_id }),
    ]);
    clock.advance(40 * 60_000 - 1);
    await sandbox.flushDueReports();
    expect(sandbox.sent.get(laterId)?.status).toBe('Queued');
    expect(received).toHaveLength(1);
    clock.advance(1);
    await waitFor(() => received.length === 2);
    expect(received[1]).toEqual([expect.objectContaining({ message_id: laterId })]);
  });

  describe('with timers that fire a millisecond early (as setTimeout may, against Date.now())', () => {
    let early: EarlyFiringClock;
    let earlySandbox: Sandbox;
    beforeEach(async () => {
      early = new EarlyFiringClock();
      earlySandbox = createSandbox({
        appKeys: [KEY],
        callsPerSecond: Infinity,
        pageSize: 25,
        dlrDelayMs: 2000,
        clock: early,
        dlrCallbackUrl: `${receiverUrl}/dlr`,
      });
      await earlySandbox.start();
    });
    afterEach(() => earlySandbox.stop());

    const sendEarly = (to: string) =>
      request(earlySandbox.url)
        .post('/api/v3/send-sms')
        .set('APPKEY', KEY)
        .send({ sms_text: 'Hello', numbers: [to] })
        .then((res) => res.body.data.messages[0].message_id as string);
    const reportedIds = () => (received as { message_id: string }[][]).flat().map((r) => r.message_id);

    it('still sends a report whose timer fired before it was due (the timer is re-armed)', async () => {
      const id = await sendEarly('0412345678');
      early.advance(2000);
      await waitFor(() => received.length === 1);
      expect(reportedIds()).toEqual([id]);
      expect(early.pending()).toBe(0);
    });

    it("sends each report when it falls due, not with a later message's report", async () => {
      const first = await sendEarly('0412345678');
      early.advance(1000);
      const second = await sendEarly('0412345679');
      early.advance(1000);
      await waitFor(() => received.length === 1);
      expect(reportedIds()).toEqual([first]);
      early.advance(1000);
      await waitFor(() => received.length === 2);
      expect(reportedIds()).toEqual([first, second]);
    });

    it('sends every one of 150 reports by its due time', async () => {
      const due: { id: string; at: number }[] = [];
      for (let i = 0; i < 150; i++) {
        due.push({ id: await sendEarly(`04123${String(i).padStart(5, '0')}`), at: early.now() + 2000 });
        early.advance(7);
      }
      const end = due.at(-1)!.at;
      while (early.now() < end) {
        early.advance(7);
        const expected = due.filter((d) => d.at <= early.now()).map((d) => d.id);
        await waitFor(() => reportedIds().length === expected.length);
        expect(reportedIds()).toEqual(expected);
      }
      expect(reportedIds()).toHaveLength(150);
    }, 60_000);
  });

  it('retries a delivery report the receiver refused', async () => {
    let attempts = 0;
    const flaky = createServer((_req, res) => {
      attempts += 1;
      res.statusCode = attempts < 3 ? 500 : 200;
      res.end();
    });
    await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve));
    sandbox.configureCallbacks({ dlr: `http://127.0.0.1:${(flaky.address() as AddressInfo).port}/` });
    try {
      await send({ sms_text: 'Hello', numbers: ['0412345678'] });
      clock.advance(2000);
      // After each refused attempt the sandbox schedules the next one: 1 s, then 2 s later.
      await waitFor(() => attempts === 1 && clock.pending() === 1);
      clock.advance(999);
      expect(attempts).toBe(1);
      clock.advance(1);
      await waitFor(() => attempts === 2 && clock.pending() === 1);
      clock.advance(2000);
      await waitFor(() => sandbox.reportsPosted.length === 1);
      expect(attempts).toBe(3);
    } finally {
      flaky.closeAllConnections();
      await new Promise((resolve) => flaky.close(resolve));
    }
  });

  it('pages get-responses at 25, keeps replies unread until inbound-read, and posts inbound as an array', async () => {
    for (let i = 0; i < 30; i++) sandbox.injectInbound({ from: '+61412345678', body: `reply ${i}` });
    await waitFor(() => received.length === 30);
    expect(Array.isArray(received[0])).toBe(true);
    const page1 = await api().get('/api/v3/get-responses?page=1&type=sms').set('APPKEY', KEY);
    expect(page1.body.data.page).toEqual({ count: 2, number: 1 });
    expect(page1.body.data.total).toBe('30');
    expect(page1.body.data.responses).toHaveLength(25);
    const page2 = await api().get('/api/v3/get-responses?page=2&type=sms').set('APPKEY', KEY);
    expect(page2.body.data.responses).toHaveLength(5);
    const first = page1.body.data.responses[0].message_id;
    await api().post('/api/v3/inbound-read').set('APPKEY', KEY).send({ message_id: first });
    const after = await api().get('/api/v3/get-responses').set('APPKEY', KEY);
    expect(after.body.data.total).toBe('29');
    await api().post('/api/v3/inbound-read').set('APPKEY', KEY).send({});
    const empty = await api().get('/api/v3/get-responses').set('APPKEY', KEY);
    expect(empty.body).toEqual({
      meta: { code: 200, status: 'SUCCESS' },
      msg: 'No Response are available!',
      data: { page: { count: '0', number: 0 }, total: 0, responses: '' },
    });
  });

  it('answers bulk-send-sms with one envelope per message', async () => {
    const res = await api()
      .post('/api/v3/bulk-send-sms')
      .set('APPKEY', KEY)
      .send([
        { sms_text: 'one', numbers: '+61412345678' },
        { sms_text: '', numbers: '+61412345679' },
      ]);
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(2);
    expect(res.body[0].meta.status).toBe('SUCCESS');
    expect(res.body[1].meta.status).toBe('FIELD_EMPTY');
  });

  it('records every call, with the key it was given', async () => {
    await api().get('/api/v3/account').set('APPKEY', KEY);
    await api().get('/api/v3/account');
    expect(sandbox.calls.map((c) => [c.endpoint, c.status, c.appKey])).toEqual([
      ['account', 200, KEY],
      ['account', 401, undefined],
    ]);
    const listed = await api().get('/_sandbox/calls');
    expect(listed.body).toEqual([
      expect.objectContaining({ auth: 'appkey', keyValid: true }),
      expect.objectContaining({ auth: 'none', keyValid: false }),
    ]);
    expect(JSON.stringify(listed.body)).not.toContain(KEY);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setImmediate(resolve));
  }
}
