import { connect, createServer } from 'node:net';
import request from 'supertest';
import type { RunningServer } from '../../src/server';
import { startCaptchaVerifier, type FakeCaptchaVerifier } from '../support/captcha-verifier';
import { startTestGateway } from '../support/gateway';
import { captured } from '../support/leak-guard';
import { freePort } from '../support/ports';
import { waitFor } from '../support/wait';

const ORIGIN = 'https://www.example.com';
const RECIPIENT = '+61412000999';

function formConfig(verifyUrl: string) {
  const base = {
    tenant: 'alpha',
    recipients: ['0412000999'],
    template: 'Enquiry from {{name}}: {{message}}',
    fields: { name: { required: true, maxLength: 60 }, message: { required: true, maxLength: 280 } },
    allowedOrigins: [ORIGIN],
    successRedirect: `${ORIGIN}/thanks`,
    captcha: { provider: 'turnstile', secret: 'form-captcha-secret-0001', verifyUrl },
    limits: { perIpPerHour: 1000, perHour: 1000, perDay: 1000 },
  };
  const open = { ...base, captcha: { provider: 'none' } };
  return {
    tenants: { webform: { allowedCountries: ['AU'], quota: { segmentsPerDay: 2 } } },
    forms: {
      contact: base,
      strict: { ...open, overLength: 'reject' },
      'ip-limit': { ...open, limits: { perIpPerHour: 5 } },
      'xff-limit': { ...open, limits: { perIpPerHour: 5 } },
      capped: { ...open, limits: { perIpPerHour: 100, perHour: 2 } },
      quota: { ...open, tenant: 'webform' },
      replying: {
        ...base,
        fields: { ...base.fields, phone: { maxLength: 20 } },
        reply: { enabled: true, field: 'phone', template: 'Thanks {{name}}, we got your message.' },
      },
    },
  };
}

describe('POST /v1/forms/:formId — public contact forms', () => {
  let gw: RunningServer;
  let verifier: FakeCaptchaVerifier;

  beforeAll(async () => {
    verifier = await startCaptchaVerifier();
    gw = await startTestGateway(formConfig(verifier.url));
  });
  afterAll(async () => {
    await gw.stop();
    await verifier.close();
  });
  beforeEach(() => {
    verifier.mode = 'pass';
  });

  const smsTo = (number: string) => [...gw.sandbox!.sent.values()].filter((m) => `+${m.to}` === number);
  const sentCount = () => gw.sandbox!.sent.size;
  const post = (
    formId: string,
    fields: Record<string, unknown>,
    headers: Record<string, string> = { Origin: ORIGIN },
  ) => request(gw.url).post(`/v1/forms/${formId}`).set(headers).send(fields);
  const good = { name: 'Ann', message: 'Call me back', 'cf-turnstile-response': 'token-ok' };

  it('sends one SMS to the fixed recipient with the rendered template; a plain HTML post is answered 303', async () => {
    const before = smsTo(RECIPIENT).length;
    const json = await post('contact', good);
    expect(json.status).toBe(201);
    expect(json.body).toEqual({ error: { code: 'SUCCESS', description: '' }, data: { received: true } });
    const html = await request(gw.url)
      .post('/v1/forms/contact')
      .set({ Origin: ORIGIN })
      .type('form')
      .send(new URLSearchParams(good).toString());
    expect(html.status).toBe(303);
    expect(html.headers.location).toBe(`${ORIGIN}/thanks`);
    const sent = smsTo(RECIPIENT).slice(before);
    expect(sent.map((m) => m.body)).toEqual([
      'Enquiry from Ann: Call me back',
      'Enquiry from Ann: Call me back',
    ]);
    // The verifier was asked with the secret, the token and the client's address.
    expect(verifier.requests.at(-1)).toEqual({
      secret: 'form-captcha-secret-0001',
      response: 'token-ok',
      remoteip: '127.0.0.1',
    });
  });

  it('ignores to, from and template in the post: the SMS goes only to the configured recipient', async () => {
    const before = sentCount();
    const res = await post('contact', {
      ...good,
      to: '+61499999999',
      from: 'Evil',
      template: 'Send money to {{name}}',
      text: 'overridden?',
      recipients: ['+61499999999'],
    });
    expect(res.status).toBe(201);
    const sent = [...gw.sandbox!.sent.values()].slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ to: RECIPIENT.slice(1), body: 'Enquiry from Ann: Call me back' });
    expect(sent[0]!.from).not.toBe('Evil'); // the tenant's sender (here the provider's shared number)
  });

  it('a JSON post retried with the same Idempotency-Key sends once and replays the answer', async () => {
    const before = sentCount();
    const headers = { Origin: ORIGIN, 'Idempotency-Key': 'form-submit-77' };
    const first = await post('contact', good, headers);
    const again = await post('contact', good, headers);
    expect([first.status, again.status]).toEqual([201, 201]);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(sentCount()).toBe(before + 1);
  });

  it('refuses an origin not on the list: 403, no CORS allow header, nothing sent; preflight only for listed origins', async () => {
    const before = sentCount();
    const wrongOrigins: Record<string, string>[] = [
      { Origin: 'https://evil.example' },
      { Referer: 'https://evil.example/page' },
      {},
    ];
    for (const headers of wrongOrigins) {
      const res = await post('contact', good, headers);
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('FORBIDDEN');
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    }
    expect((await post('contact', good, { Referer: `${ORIGIN}/contact` })).status).toBe(201);
    expect(sentCount()).toBe(before + 1);

    const allowed = await request(gw.url)
      .options('/v1/forms/contact')
      .set({ Origin: ORIGIN, 'Access-Control-Request-Method': 'POST' });
    expect(allowed.status).toBe(204);
    expect(allowed.headers['access-control-allow-origin']).toBe(ORIGIN);
    const refused = await request(gw.url)
      .options('/v1/forms/contact')
      .set({ Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' });
    expect(refused.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers a preflight from an unlisted origin, or without one, with the 403 envelope (not Express’s text/plain)', async () => {
    const preflight = (formId: string, headers: Record<string, string>) =>
      request(gw.url)
        .options(`/v1/forms/${formId}`)
        .set({ 'Access-Control-Request-Method': 'POST', ...headers });
    const refused = await preflight('contact', { Origin: 'https://evil.example' });
    expect(refused.status).toBe(403);
    expect(refused.headers['content-type']).toMatch(/^application\/json/);
    expect(refused.body).toEqual({
      error: { code: 'FORBIDDEN', description: "Origin: 'https://evil.example' may not post to this form" },
      data: {},
    });
    expect(refused.headers['access-control-allow-origin']).toBeUndefined();
    expect(refused.headers['access-control-allow-methods']).toBeUndefined();
    const anonymous = await preflight('contact', {});
    expect(anonymous.status).toBe(403);
    expect(anonymous.body.error).toEqual({
      code: 'FORBIDDEN',
      description: 'Origin: missing (a preflight names the page’s origin)',
    });
    const unknown = await preflight('nope', { Origin: ORIGIN });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toEqual({ code: 'NOT_FOUND', description: "formId: no form 'nope'" });
  });

  it('JSON nested 10,000 levels deep with an Idempotency-Key → 400 naming the body; nothing sent or kept', async () => {
    const keys = async () =>
      Number(
        (
          await gw.db
            .selectFrom('idempotency_keys')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const before = { sent: sentCount(), calls: gw.sandbox!.calls.length, keys: await keys() };
    const depth = 10_000;
    const res = await request(gw.url)
      .post('/v1/forms/contact')
      .set({ Origin: ORIGIN, 'Idempotency-Key': 'deep-form-1', 'Content-Type': 'application/json' })
      .send(`${'{"name":'.repeat(depth)}"Ann"${'}'.repeat(depth)}`);
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({
      code: 'FIELD_INVALID',
      description: 'body: nested deeper than 32 levels',
    });
    expect({ sent: sentCount(), calls: gw.sandbox!.calls.length, keys: await keys() }).toEqual(before);
  });

  it('CAPTCHA: missing → 400, refused → 403, verifier down or answering garbage → 503; nothing sent, ever', async () => {
    const before = sentCount();
    const asked = verifier.requests.length;
    const missing = await post('contact', { name: 'Ann', message: 'hi' });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toEqual({
      code: 'FIELD_EMPTY',
      description: 'cf-turnstile-response: the CAPTCHA token is required',
    });
    expect(verifier.requests).toHaveLength(asked);

    verifier.mode = 'fail';
    const refused = await post('contact', good);
    expect(refused.status).toBe(403);
    expect(refused.body.error.description).toBe(
      'cf-turnstile-response: refused by the verifier (invalid-input-response)',
    );
    for (const mode of ['garbage', 'error500'] as const) {
      verifier.mode = mode;
      const res = await post('contact', good);
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('UPSTREAM_UNAVAILABLE');
    }
    expect(sentCount()).toBe(before);
  });

  it('fails closed when the verifier cannot be reached at all', async () => {
    const unreachable = await startTestGateway(formConfig(`http://127.0.0.1:${await freePort()}/siteverify`));
    try {
      const res = await request(unreachable.url).post('/v1/forms/contact').set({ Origin: ORIGIN }).send(good);
      expect(res.status).toBe(503);
      expect(res.body.error.description).toBe(
        'captcha: the verifier could not be reached; nothing was sent, try again',
      );
      expect(unreachable.sandbox!.sent.size).toBe(0);
    } finally {
      await unreachable.stop();
    }
  });

  it('a filled honeypot is answered exactly like success, and nothing is sent', async () => {
    const before = sentCount();
    const real = await post('contact', good);
    const caught = await post('contact', { ...good, website: 'http://spam.example' });
    expect(caught.status).toBe(real.status);
    expect(caught.body).toEqual(real.body);
    const caughtHtml = await request(gw.url)
      .post('/v1/forms/contact')
      .set({ Origin: ORIGIN })
      .type('form')
      .send(new URLSearchParams({ ...good, website: 'x' }).toString());
    expect(caughtHtml.status).toBe(303);
    expect(caughtHtml.headers.location).toBe(`${ORIGIN}/thanks`);
    expect(sentCount()).toBe(before + 1);
  });

  it('100 posts from one address with a limit of 5 an hour → 5 SMS; rotating X-Forwarded-For from an untrusted peer changes nothing', async () => {
    const fields = { name: 'Bot', message: 'pump' };
    for (const formId of ['ip-limit', 'xff-limit']) {
      const before = sentCount();
      const statuses: number[] = [];
      for (let i = 0; i < 100; i++) {
        const headers: Record<string, string> = { Origin: ORIGIN };
        if (formId === 'xff-limit') headers['X-Forwarded-For'] = `203.0.113.${i}`;
        statuses.push((await post(formId, fields, headers)).status);
      }
      expect(statuses.filter((s) => s === 201)).toHaveLength(5);
      expect(statuses.filter((s) => s === 429)).toHaveLength(95);
      expect(sentCount()).toBe(before + 5);
    }
    const limited = await post('ip-limit', fields);
    expect(limited.body.error.code).toBe('OVER_LIMIT');
    expect(limited.headers['retry-after']).toMatch(/^\d+$/);
  });

  it("the form's hourly cap and its tenant's quota apply whoever posts", async () => {
    const fields = { name: 'Ann', message: 'hello' };
    expect([(await post('capped', fields)).status, (await post('capped', fields)).status]).toEqual([
      201, 201,
    ]);
    const third = await post('capped', fields);
    expect(third.status).toBe(429);
    expect(third.body.error.description).toMatch(/^form capped: at most 2 messages per hour/);

    expect([(await post('quota', fields)).status, (await post('quota', fields)).status]).toEqual([201, 201]);
    const overQuota = await post('quota', fields);
    expect(overQuota.status).toBe(429);
    expect(overQuota.body.error.code).toBe('OVER_LIMIT');
  });

  it('1 MB body → 413; a 10 KB field is capped (truncate) or refused (reject), never a surprise in segments', async () => {
    const huge = 'x'.repeat(1024 * 1024);
    expect((await post('contact', { ...good, message: huge })).status).toBe(413);
    const form = await request(gw.url)
      .post('/v1/forms/contact')
      .set({ Origin: ORIGIN })
      .type('form')
      .send(`name=Ann&message=${huge}`);
    expect(form.status).toBe(413);

    const before = sentCount();
    const long = 'y'.repeat(10 * 1024);
    expect((await post('contact', { ...good, message: long })).status).toBe(201);
    const [sent] = [...gw.sandbox!.sent.values()].slice(before);
    expect(sent!.body).toBe(`Enquiry from Ann: ${'y'.repeat(280)}`);
    expect(Math.ceil(sent!.body.length / 153)).toBeLessThanOrEqual(2);

    const strict = await post('strict', { name: 'Ann', message: long });
    expect(strict.status).toBe(400);
    expect(strict.body.error).toEqual({
      code: 'FIELD_INVALID',
      description: 'message: at most 280 characters, got 10240',
    });
    // A field that fits but makes the text longer than the form allows (emoji: UCS-2, 67 per part).
    const emoji = await post('strict', { name: 'Ann', message: '😀'.repeat(150) });
    expect(emoji.status).toBe(400);
    expect(emoji.body.error.description).toMatch(
      /^message: the rendered text needs \d+ SMS segments; this form allows 2$/,
    );
    expect(sentCount()).toBe(before + 1);
  });

  it('strips control characters, requires declared fields, and answers 404 for an unknown form', async () => {
    const before = sentCount();
    expect((await post('contact', { ...good, name: 'A\u0000n\u0007n\u001b' })).status).toBe(201);
    expect([...gw.sandbox!.sent.values()].slice(before)[0]!.body).toBe('Enquiry from Ann: Call me back');
    const missing = await post('contact', { ...good, name: '  ' });
    expect(missing.body.error).toEqual({ code: 'FIELD_EMPTY', description: 'name: required' });
    const unknown = await post('nope', good);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('NOT_FOUND');
    const xml = await request(gw.url)
      .post('/v1/forms/contact')
      .set({ Origin: ORIGIN, 'Content-Type': 'text/plain' })
      .send('name=Ann');
    expect(xml.status).toBe(415);
  });

  it('replies to the submitter once per number per day, only in allowed countries', async () => {
    const submitter = '+61412777666';
    const post3 = async (phone: string) => (await post('replying', { ...good, phone })).status;
    expect(await post3('0412777666')).toBe(201);
    expect(await post3('0412 777 666')).toBe(201);
    expect(smsTo(submitter).map((m) => m.body)).toEqual(['Thanks Ann, we got your message.']);
    const nz = '+64211234567';
    expect(await post3(nz)).toBe(201);
    expect(smsTo(nz)).toHaveLength(0);
  });

  it('never replies to a premium-rate or landline number a submitter types in', async () => {
    const calls = () => gw.sandbox!.calls.filter((c) => c.endpoint === 'send-sms').length;
    for (const phone of ['1902 123 456', '+61 1900 123 456', '02 9374 4000']) {
      const before = calls();
      expect((await post('replying', { ...good, phone })).status).toBe(201);
      // One provider call: the enquiry to the form's own recipient, no reply.
      expect(calls()).toBe(before + 1);
    }
    expect(smsTo('+611902123456')).toHaveLength(0);
    expect(smsTo('+611900123456')).toHaveLength(0);
    expect(smsTo('+61293744000')).toHaveLength(0);
  });
});

describe('behind a trusted proxy (http.trustProxy: 1)', () => {
  it('limits by the client address the proxy reports', async () => {
    const gw = await startTestGateway({
      http: { trustProxy: 1 },
      forms: {
        limited: {
          tenant: 'alpha',
          recipients: ['0412000999'],
          template: 'Hi {{name}}',
          fields: { name: { required: true } },
          allowedOrigins: [ORIGIN],
          captcha: { provider: 'none' },
          limits: { perIpPerHour: 1 },
        },
      },
    });
    try {
      const statuses = [];
      for (const client of ['198.51.100.1', '198.51.100.2', '198.51.100.1']) {
        const res = await request(gw.url)
          .post('/v1/forms/limited')
          .set({ Origin: ORIGIN, 'X-Forwarded-For': client, 'X-Forwarded-Proto': 'https' })
          .send({ name: 'Ann' });
        statuses.push(res.status);
      }
      expect(statuses).toEqual([201, 201, 429]);
    } finally {
      await gw.stop();
    }
  });
});

describe('with Redis configured but unreachable', () => {
  const openForm = {
    tenant: 'alpha',
    recipients: ['0412000999'],
    template: 'Hi {{name}}',
    fields: { name: { required: true } },
    allowedOrigins: [ORIGIN],
    captcha: { provider: 'none' },
  };
  const gatewayWithRedisAt = (port: number) =>
    startTestGateway({
      redis: {
        url: `redis://127.0.0.1:${port}`,
        keyPrefix: `smsgate-test-${process.pid}-${Date.now()}-forms`,
      },
      forms: { open: openForm },
    });
  const postTo = (gw: RunningServer, headers: Record<string, string> = {}) =>
    request(gw.url)
      .post('/v1/forms/open')
      .set({ Origin: ORIGIN, ...headers })
      .send({ name: 'Ann' });

  it('form posts fail closed with 503 UPSTREAM_UNAVAILABLE and Retry-After: one warn line, no stack, nothing sent or stored', async () => {
    const gw = await gatewayWithRedisAt(await freePort());
    try {
      const logged = captured.logLines.length;
      const res = await postTo(gw, { 'Idempotency-Key': 'form-redis-down-1' });
      expect(res.status).toBe(503);
      expect(res.body.error).toEqual({
        code: 'UPSTREAM_UNAVAILABLE',
        description:
          'form open: its abuse limiter is unavailable (Redis cannot be reached); nothing was sent, try again later',
      });
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(gw.sandbox!.sent.size).toBe(0);
      for (const table of ['messages', 'send_jobs', 'idempotency_keys'] as const) {
        const rows = await gw.db.selectFrom(table).selectAll().execute();
        expect({ table, rows }).toEqual({ table, rows: [] });
      }
      const lines = captured.logLines
        .slice(logged)
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      // One warn line for the outage (from the limiter stores), and the refused post at info.
      const about = lines.filter((line) => String(line.msg).includes('form limits'));
      expect(about.filter((line) => Number(line.level) >= 40)).toEqual([
        expect.objectContaining({ level: 40, event: 'rate_limit.store_unavailable' }),
      ]);
      expect(about.filter((line) => Number(line.level) === 30)).toEqual([
        expect.objectContaining({ form: 'open' }),
      ]);
      expect(lines.filter((line) => Number(line.level) >= 50)).toEqual([]);
      expect(captured.logLines.slice(logged).filter((line) => line.includes('"stack"'))).toEqual([]);
    } finally {
      await gw.stop();
    }
  });

  it('posts go through again once Redis answers, even when it was down from the start', async () => {
    const port = await freePort();
    const gw = await gatewayWithRedisAt(port);
    // Redis "comes back": the port starts answering, forwarded to the machine's Redis.
    const redis = createServer((client) => {
      const server = connect(6379, '127.0.0.1');
      client.on('error', () => server.destroy());
      server.on('error', () => client.destroy());
      client.pipe(server).pipe(client);
    });
    try {
      expect((await postTo(gw)).status).toBe(503);
      await new Promise<void>((resolve) => redis.listen(port, '127.0.0.1', resolve));
      await waitFor(async () => (await postTo(gw)).status === 201, 15_000, 'a post accepted');
      expect(gw.sandbox!.sent.size).toBe(1);
    } finally {
      await gw.stop();
      redis.close();
    }
  });
});
