import request from 'supertest';
import type { RunningServer } from '../../src/server';
import { bearer, startTestGateway, tokenFor } from '../support/gateway';

// POST /v1/messages with a template: the text is the tenant's, the caller fills declared fields;
// a token with sms:send:template (and not sms:send) may send nothing else.
describe('message templates', () => {
  let gw: RunningServer;
  beforeAll(async () => {
    gw = await startTestGateway({
      tenants: {
        alpha: {
          scopes: ['sms:send', 'sms:read', 'sms:send:template'],
          templates: {
            ready: {
              text: 'Hi {{name}}, your order {{order}} is ready.',
              fields: { name: { type: 'gsm', maxLength: 20 }, order: { type: 'digits', maxLength: 8 } },
              sender: 'AlphaShop',
            },
          },
        },
      },
    });
  });
  afterAll(() => gw.stop());

  const templateOnly = bearer(tokenFor('alpha', { scope: 'sms:send:template' }));
  const send = (auth: Record<string, string>, body: object) =>
    request(gw.url).post('/v1/messages').set(auth).send(body);

  it('renders the template with its sender', async () => {
    const res = await send(templateOnly, {
      to: '0412345678',
      template: 'ready',
      params: { name: 'Ann', order: '1234' },
    });
    expect(res.status).toBe(201);
    expect(res.body.data.messages[0]).toMatchObject({ from: 'AlphaShop', status: 'sent' });
    const sent = [...gw.sandbox!.sent.values()].at(-1);
    expect(sent).toMatchObject({ body: 'Hi Ann, your order 1234 is ready.', from: 'AlphaShop' });
  });

  it('sms:send:template may not send free text; sms:send may send both', async () => {
    const free = await send(templateOnly, { to: '0412345678', text: 'anything I like' });
    expect(free.status).toBe(403);
    expect(free.body.error.description).toContain("templates only (scope 'sms:send:template')");
    const full = bearer(tokenFor('alpha', { scope: 'sms:send' }));
    expect((await send(full, { to: '0412345678', text: 'free text' })).status).toBe(201);
    expect(
      (await send(full, { to: '0412345678', template: 'ready', params: { name: 'Bo', order: '9' } })).status,
    ).toBe(201);
    const readOnly = bearer(tokenFor('alpha', { scope: 'sms:read' }));
    expect((await send(readOnly, { to: '0412345678', template: 'ready', params: {} })).status).toBe(403);
  });

  it('refuses params outside the declared fields, types and lengths, naming the field', async () => {
    const cases: [object, string][] = [
      [{ template: 'nope', params: {} }, "template: 'nope' is not a template of this tenant"],
      [{ template: 'ready', params: { name: 'Ann' } }, 'params.order: required'],
      [{ template: 'ready', params: { name: 'Ann', order: '12a' } }, 'params.order: expected digits only'],
      [
        { template: 'ready', params: { name: 'A'.repeat(21), order: '1' } },
        'params.name: at most 20 characters',
      ],
      [{ template: 'ready', params: { name: 'Ann', order: '1', link: 'x' } }, 'params.link: not a field'],
      [{ template: 'ready', params: { name: 'Ann\nCall 1900', order: '1' } }, 'params.name: line breaks'],
      [
        { template: 'ready', params: { name: 'Ann', order: '1' }, text: 'x' },
        'text: send either text or template',
      ],
      [
        { template: 'ready', params: { name: 'Ann', order: '1' }, from: 'Other' },
        "from: a template's sender is fixed",
      ],
    ];
    for (const [body, description] of cases) {
      const res = await send(templateOnly, { to: '0412345678', ...body });
      expect([res.status, res.body.error.description]).toEqual([400, expect.stringContaining(description)]);
    }
  });
});
