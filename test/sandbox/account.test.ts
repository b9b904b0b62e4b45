import request from 'supertest';
import { createSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox';
import { ManualClock } from '../support/manual-clock';
import { waitFor } from '../support/wait';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';

const KEY = 'sandbox-account-key-0001';
const PROVIDER_DEFAULTS = { appKeys: [KEY], callsPerSecond: 15, pageSize: 25, dlrDelayMs: 2000 };

/** The account side of the provider: templates, the opt-out list, the balance and STOP replies. */
describe('the provider sandbox account', () => {
  let clock: ManualClock;
  let sandbox: Sandbox;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
  });
  afterAll(() => receiver.close());

  async function open(options: Partial<SandboxOptions> = {}): Promise<void> {
    clock = new ManualClock();
    receiver.received.length = 0;
    const callbacks = {
      dlrCallbackUrl: `${receiver.url}/dlr`,
      inboundCallbackUrl: `${receiver.url}/inbound`,
    };
    sandbox = createSandbox({ ...PROVIDER_DEFAULTS, clock, ...callbacks, ...options });
    await sandbox.start();
  }
  afterEach(() => sandbox.stop());

  const api = () => request(sandbox.url);
  const get = (path: string) => api().get(`/api/v3/${path}`).set('APPKEY', KEY);
  const post = (path: string, body: object) => api().post(`/api/v3/${path}`).set('APPKEY', KEY).send(body);
  /** Callback batches received: delivery reports carry a `status`, inbound SMS a `received_at`. */
  const posted = (kind: 'reports' | 'inbound') =>
    receiver.received
      .map((r) => JSON.parse(r.body) as Record<string, unknown>[])
      .filter((batch) => (kind === 'reports' ? 'status' : 'received_at') in batch[0]!);
  const balance = async () => (await get('account')).body.data;

  describe('templates', () => {
    beforeEach(() =>
      open({ templates: [{ templateId: 'a'.repeat(32), title: 'Welcome', message: 'Hi {fname}, welcome' }] }),
    );

    it('lists the seeded templates in the documented get-template shape', async () => {
      const res = await get('get-template');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        meta: { code: 200, status: 'SUCCESS' },
        msg: 'You have 1 Template(s)',
        data: {
          page: { count: 1, number: 1 },
          total: '1',
          per_page: 25,
          responses: [
            {
              template_id: 'a'.repeat(32),
              message_title: 'Welcome',
              Message: 'Hi {fname}, welcome',
              created_at: '2026-11-25 11:00:00',
            },
          ],
        },
      });
    });

    it('replaces the templates through the control API, giving each a 32-hex id, and pages them', async () => {
      const seeds = Array.from({ length: 30 }, (_, i) => ({ title: `T${i}`, message: `Text ${i}` }));
      const set = await api().post('/_sandbox/templates').send({ templates: seeds });
      expect(set.status).toBe(200);
      expect(set.body).toHaveLength(30);
      expect(set.body[0].templateId).toMatch(/^[0-9a-f]{32}$/);
      const page2 = await get('get-template?page=2');
      expect(page2.body.data.page).toEqual({ count: 2, number: 2 });
      expect(page2.body.data.total).toBe('30');
      expect(page2.body.data.responses.map((t: { message_title: string }) => t.message_title)).toEqual([
        'T25',
        'T26',
        'T27',
        'T28',
        'T29',
      ]);
      const bad = await api()
        .post('/_sandbox/templates')
        .send({ templates: [{ title: 'no text' }] });
      expect(bad.status).toBe(400);
    });

    it('sends a template with each recipient’s fields filled in, charges it like a send and reports its delivery', async () => {
      const res = await post('send-sms-template', {
        template_id: 'a'.repeat(32),
        numbers: [
          { number: '+61412345678', fname: 'Ada' },
          { number: '0412345679', fname: 'x'.repeat(150) },
          { number: '12' },
        ],
        custom_string: 'b-9',
      });
      expect(res.status).toBe(200);
      expect(res.body.meta).toEqual({ code: 200, status: 'SUCCESS' });
      // 'Hi Ada, welcome' is one segment; with 150 x's the text is 166 characters: two.
      expect(res.body.data).toMatchObject({ total_numbers: 3, success_number: 2, credits_used: 3 });
      expect(res.body.data.messages.map((m: { to: string; body: string }) => [m.to, m.body])).toEqual([
        ['61412345678', 'Hi Ada, welcome'],
        ['61412345679', `Hi ${'x'.repeat(150)}, welcome`],
      ]);
      expect((await balance()).sms_balance).toBe('999997.00');
      clock.advance(2000);
      await waitFor(() => posted('reports').length === 1);
      expect(posted('reports')[0]).toEqual(
        res.body.data.messages.map((m: { message_id: string }) =>
          expect.objectContaining({ message_id: m.message_id, status: 'Delivered', custom_string: 'b-9' }),
        ),
      );
    });

    it('refuses a template send without a template_id (FIELD_EMPTY) or with one it does not know (FIELD_INVALID)', async () => {
      const missing = await post('send-sms-template', { numbers: [{ number: '0412345678' }] });
      expect([missing.status, missing.body.meta.status]).toEqual([400, 'FIELD_EMPTY']);
      const unknown = await post('send-sms-template', {
        template_id: 'b'.repeat(32),
        numbers: [{ number: '0412345678' }],
      });
      expect([unknown.status, unknown.body.meta.status]).toEqual([400, 'FIELD_INVALID']);
      expect(sandbox.sent.size).toBe(0);
    });
  });

  describe('the opt-out list', () => {
    beforeEach(() => open());

    it('pages 60 seeded numbers as 25, 25 and 10 in the documented get-optout shape', async () => {
      const numbers = Array.from({ length: 60 }, (_, i) => `+614000000${String(i).padStart(2, '0')}`);
      const seeded = await api().post('/_sandbox/optouts').send({ numbers });
      expect(seeded.body).toEqual({ total: 60 });
      const pages = [];
      for (const page of [1, 2, 3, 4]) pages.push((await get(`get-optout?page=${page}`)).body);
      expect(pages.map((p) => [p.data.page, p.data.total, p.data.responses.length])).toEqual([
        [{ count: 3, number: 1 }, '60', 25],
        [{ count: 3, number: 2 }, '60', 25],
        [{ count: 3, number: 3 }, '60', 10],
        [{ count: 3, number: 4 }, '60', 0],
      ]);
      expect(pages[0].msg).toBe('You have 60 optout contact(s)');
      expect(pages[2].data.responses[9]).toEqual({
        number: '61400000059',
        first_name: '',
        last_name: '',
        gender: '',
        post_code: '',
        dob: '',
        created_at: '2026-11-25 11:00:00',
      });
      const invalid = await get('get-optout?page=zero');
      expect([invalid.status, invalid.body.meta.status]).toEqual([400, 'FIELD_INVALID']);
    });

    it('counts get-optout against the 15 calls a second like any provider call', async () => {
      for (let i = 0; i < 15; i++) expect((await get('get-optout')).status).toBe(200);
      const sixteenth = await get('get-optout');
      expect([sixteenth.status, sixteenth.body.meta.status]).toEqual([429, 'OVER_LIMIT']);
      clock.advance(1000);
      expect((await get('get-optout')).status).toBe(200);
    });

    it('filters by DATESTART and DATEEND, in the provider timezone', async () => {
      sandbox.addOptOuts(['0400000001']);
      clock.advance(3_600_000);
      sandbox.addOptOuts(['0400000002']);
      const late = await get(`get-optout?DATESTART=${encodeURIComponent('2026-11-25 11:30:00')}`);
      expect(late.body.data.responses.map((r: { number: string }) => r.number)).toEqual(['61400000002']);
      const early = await get(`get-optout?DATEEND=${encodeURIComponent('2026-11-25 11:30:00')}`);
      expect(early.body.data.responses.map((r: { number: string }) => r.number)).toEqual(['61400000001']);
    });

    it('adds the sender of a STOP reply to the list, and still posts and keeps the reply', async () => {
      await api().post('/_sandbox/inbound').send({ from: '+61412345678', body: ' Stop. ' });
      await api().post('/_sandbox/inbound').send({ from: '+61412345679', body: 'please stop by later' });
      const list = await get('get-optout');
      expect(list.body.data.responses.map((r: { number: string }) => r.number)).toEqual(['61412345678']);
      await waitFor(() => posted('inbound').length === 2);
      expect((await get('get-responses')).body.data.total).toBe('2');
    });

    it('sends nothing to an opted-out number: it is left out of the answer, charged nothing and never reported', async () => {
      sandbox.injectInbound({ from: '0412345678', body: 'STOP' });
      const res = await post('send-sms', { sms_text: 'Hello', numbers: ['0412345678', '0412345679'] });
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({ total_numbers: 2, success_number: 1, credits_used: 1 });
      expect(res.body.data.messages.map((m: { to: string }) => m.to)).toEqual(['61412345679']);
      expect((await balance()).sms_balance).toBe('999999.00');
      const only = await post('send-sms', { sms_text: 'Hello', numbers: ['0412345678'] });
      expect(only.body.data).toMatchObject({
        total_numbers: 1,
        success_number: 0,
        credits_used: 0,
        messages: [],
      });
      clock.advance(2000);
      await waitFor(() => posted('reports').length === 1);
      expect(posted('reports')[0]).toEqual([expect.objectContaining({ recipient: '61412345679' })]);
      expect(sandbox.removeOptOut('+61412345678')).toBe(true);
      const again = await post('send-sms', { sms_text: 'Hello', numbers: ['0412345678'] });
      expect(again.body.data.success_number).toBe(1);
    });
  });

  describe('the balance', () => {
    beforeEach(() => open({ balance: 1000, mmsBalance: 50, lowBalanceThreshold: 100 }));

    it('shows SMS and MMS credit as decimal strings, and takes a credit per segment per AU recipient', async () => {
      expect(await balance()).toEqual({
        account_name: 'Sandbox',
        account_email: 'sandbox@example.invalid',
        sms_balance: '1000.00',
        mms_balance: '50.00',
      });
      const res = await post('send-sms', {
        sms_text: 'a'.repeat(200),
        numbers: ['0412345678', '0412345679'],
      });
      expect(res.body.data.credits_used).toBe(4);
      expect(await balance()).toMatchObject({ sms_balance: '996.00', mms_balance: '50.00' });
      const bulk = await post('bulk-send-sms', [
        { sms_text: 'one', numbers: '0412345678' },
        { sms_text: 'two', numbers: '0412345679' },
      ]);
      expect(bulk.body.map((e: { data: { credits_used: number } }) => e.data.credits_used)).toEqual([1, 1]);
      expect((await balance()).sms_balance).toBe('994.00');
    });

    it('charges an international recipient at its country price and a sender id of one’s own 33% more', async () => {
      const uk = await post('send-sms', { sms_text: 'Hello', numbers: ['+447700900123'] });
      expect(uk.body.data.credits_used).toBe(2);
      const custom = await post('send-sms', { sms_text: 'Hello', numbers: ['0412345678'], from: 'Acme' });
      expect(custom.body.data.credits_used).toBe(1.33);
      expect((await balance()).sms_balance).toBe('996.67');
    });

    it('is set through the control API; below the threshold a send answer carries low_sms_alert', async () => {
      const set = await api().post('/_sandbox/account').send({ smsBalance: 101, mmsBalance: 7.5 });
      expect(set.body).toEqual({ sms_balance: '101.00', mms_balance: '7.50' });
      const above = await post('send-sms', { sms_text: 'Hello', numbers: ['0412345678'] });
      expect(above.body.low_sms_alert).toBeUndefined();
      const below = await post('send-sms', { sms_text: 'Hello', numbers: ['0412345678'] });
      expect(below.body.low_sms_alert).toBe(
        'Your account credits are low, you have 99.00 credits remaining, please top-up via the platform',
      );
      const bad = await api().post('/_sandbox/account').send({ smsBalance: 'lots' });
      expect(bad.status).toBe(400);
    });

    it('refuses a send that costs more than the balance, taking nothing', async () => {
      sandbox.setBalance({ sms: 1.5 });
      const res = await post('send-sms', { sms_text: 'Hello', numbers: ['0412345678', '0412345679'] });
      expect([res.status, res.body.meta.status]).toEqual([400, 'INSUFFICIENT_CREDIT']);
      expect(sandbox.sent.size).toBe(0);
      expect((await balance()).sms_balance).toBe('1.50');
    });

    it('opens again on reset: balance, opt-out list and templates as the options gave them', async () => {
      await post('send-sms', { sms_text: 'Hello', numbers: ['0412345678'] });
      sandbox.addOptOuts(['0412345678']);
      sandbox.setTemplates([{ title: 'T', message: 'M' }]);
      await api().post('/_sandbox/reset');
      expect(sandbox.balance).toEqual({ sms: 1000, mms: 50 });
      expect(sandbox.optOuts.size).toBe(0);
      expect(sandbox.templates).toEqual([]);
    });
  });
});
