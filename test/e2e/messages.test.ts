import request from 'supertest';
import { mintToken } from '../../src/auth';
import { formatProviderTime } from '../../src/clock';
import type { RunningServer } from '../../src/server';
import { TEST_APPKEY } from '../support/constants';
import { bearer, startTestGateway, tokenFor } from '../support/gateway';
import { captured } from '../support/leak-guard';

let gw: RunningServer;
const sandbox = () => gw.sandbox!;
const sendCalls = () => sandbox().calls.filter((c) => c.endpoint === 'send-sms');

beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(() => gw.stop());
beforeEach(() => sandbox().reset());

describe('POST /v1/messages', () => {
  it('sends through the provider with the APPKEY added server-side and returns 201 with a retrievable id', async () => {
    const token = mintToken(gw.config, { tenantId: 'alpha', scopes: ['sms:send', 'sms:read'], ttlSec: 60 });
    const sent = await request(gw.url)
      .post('/v1/messages')
      .set(bearer(token))
      .send({ to: '0412 345 678', text: 'Hello from smsgate' });

    expect(sent.status).toBe(201);
    expect(sent.body.error).toEqual({ code: 'SUCCESS', description: '' });
    const [message] = sent.body.data.messages;
    expect(message).toMatchObject({ to: '+61412345678', status: 'sent', segments: 1, encoding: 'GSM-7' });
    expect(sendCalls()).toHaveLength(1);
    expect(sendCalls()[0]?.appKey).toBe(TEST_APPKEY);
    expect(sendCalls()[0]?.body).toMatchObject({ numbers: ['+61412345678'], sms_text: 'Hello from smsgate' });

    const fetched = await request(gw.url).get(`/v1/messages/${message.id}`).set(bearer(token));
    expect(fetched.status).toBe(200);
    expect(fetched.body.data).toMatchObject({
      id: message.id,
      to: '+61412345678',
      status: 'sent',
      text: 'Hello from smsgate',
    });
    expect(fetched.body.data.providerMessageId).toMatch(
      /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/,
    );
    expect(fetched.body.data.history.map((h: { status: string }) => h.status)).toEqual(['queued', 'sent']);
  });

  it('sends one provider call for many recipients, normalised to E.164 and sent once each', async () => {
    const res = await request(gw.url)
      .post('/v1/messages')
      .set(bearer(tokenFor('alpha')))
      .send({
        to: ['0412345678', '+61 412 345 679', '61412345678'],
        text: 'Team update',
        reference: 'order-17',
      });
    expect(res.status).toBe(201);
    expect(res.body.data.total).toBe(2);
    expect(res.body.data.messages.map((m: { to: string }) => m.to)).toEqual(['+61412345678', '+61412345679']);
    expect(res.body.data.messages[0].reference).toBe('order-17');
    expect(sendCalls()).toHaveLength(1);
    expect(sendCalls()[0]?.body).toMatchObject({ numbers: ['+61412345678', '+61412345679'] });
  });

  it('counts segments and encoding: 161 GSM characters are 2 segments, one emoji makes it UCS-2', async () => {
    const long = await request(gw.url)
      .post('/v1/messages')
      .set(bearer(tokenFor('alpha')))
      .send({ to: '0412345678', text: 'a'.repeat(161) });
    expect(long.body.data.messages[0]).toMatchObject({ segments: 2, encoding: 'GSM-7' });
    const emoji = await request(gw.url)
      .post('/v1/messages')
      .set(bearer(tokenFor('alpha')))
      .send({ to: '0412345678', text: 'Hi 👋' });
    expect(emoji.body.data.messages[0]).toMatchObject({ segments: 1, encoding: 'UCS-2' });
  });

  it('accepts the international prefix written as 00 (0061…)', async () => {
    const res = await request(gw.url)
      .post('/v1/messages')
      .set(bearer(tokenFor('alpha')))
      .send({ to: ['0061 412 345 678', '0011 61 412 345 679'], text: 'International prefix' });
    expect(res.status).toBe(201);
    expect(res.body.data.messages.map((m: { to: string }) => m.to)).toEqual(['+61412345678', '+61412345679']);
    expect(sendCalls()[0]?.body).toMatchObject({ numbers: ['+61412345678', '+61412345679'] });
  });

  it('passes a schedule to the provider in its own time format', async () => {
    const at = new Date(Math.floor(Date.now() / 1000) * 1000 + 7 * 86_400_000);
    const res = await request(gw.url)
      .post('/v1/messages')
      .set(bearer(tokenFor('alpha')))
      .send({ to: '0412345678', text: 'Later', scheduleAt: at.toISOString() });
    expect(res.status).toBe(201);
    expect(res.body.data.messages[0]).toMatchObject({ status: 'scheduled', scheduledAt: at.toISOString() });
    expect(sendCalls()[0]?.body).toMatchObject({
      schedule_time: formatProviderTime(at.getTime(), 'Australia/Sydney'),
    });
  });

  it('uses a tenant-allowed sender id and refuses one the tenant may not use', async () => {
    const ok = await request(gw.url)
      .post('/v1/messages')
      .set(bearer(tokenFor('beta')))
      .send({ to: '0412345678', text: 'Hi', from: 'BetaCo' });
    expect(ok.status).toBe(201);
    expect(sendCalls()[0]?.body).toMatchObject({ from: 'BetaCo' });
    const refused = await request(gw.url)
      .post('/v1/messages')
      .set(bearer(tokenFor('beta')))
      .send({ to: '0412345678', text: 'Hi', from: 'Other' });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toEqual({ code: 'FORBIDDEN', description: expect.stringContaining('from:') });
  });

  it('needs the sms:send scope', async () => {
    const res = await request(gw.url)
      .post('/v1/messages')
      .set(bearer(tokenFor('alpha', { scope: 'sms:read' })))
      .send({ to: '0412345678', text: 'Hi' });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('FORBIDDEN');
    expect(sendCalls()).toHaveLength(0);
  });
});

describe('the leak guard', () => {
  it('has real material to check: log lines and responses of this file are captured', () => {
    expect(captured.logLines.some((line) => line.includes('POST /v1/messages 201'))).toBe(true);
    expect(captured.responses.some((text) => text.startsWith('201 ') && text.includes('"SUCCESS"'))).toBe(
      true,
    );
  });
});

describe('invalid input gets a 4xx envelope naming the field, and nothing is sent or stored', () => {
  const cases: [string, () => request.Test, number, string, RegExp][] = [
    ['empty text', () => post({ to: '0412345678', text: '  ' }), 400, 'FIELD_EMPTY', /^text:/],
    ['missing to', () => post({ text: 'hi' }), 400, 'FIELD_EMPTY', /^to:/],
    [
      '1001 recipients',
      () =>
        post({ to: Array.from({ length: 1001 }, (_, i) => `+614${String(i).padStart(8, '0')}`), text: 'hi' }),
      400,
      'RECIPIENTS_ERROR',
      /^to: at most 1000/,
    ],
    [
      '+6140',
      () => post({ to: ['0412345678', '+6140'], text: 'hi' }),
      400,
      'RECIPIENTS_ERROR',
      /^to\[1\]: '\+6140' is not a valid phone number/,
    ],
    [
      'a country the tenant may not send to',
      () => post({ to: '+64211234567', text: 'hi' }),
      403,
      'FORBIDDEN',
      /^to: NZ is not an allowed country/,
    ],
    [
      'an over-long sender id',
      () => post({ to: '0412345678', text: 'hi', from: 'ABCDEFGHIJKL' }),
      400,
      'FIELD_INVALID',
      /^from:/,
    ],
    [
      'an over-long numeric sender id',
      () => post({ to: '0412345678', text: 'hi', from: '12345678901234567' }),
      400,
      'FIELD_INVALID',
      /^from:/,
    ],
    [
      'an illegal sender id',
      () => post({ to: '0412345678', text: 'hi', from: 'Bad_Sender!' }),
      400,
      'FIELD_INVALID',
      /^from:/,
    ],
    [
      'GSM text over 918 characters',
      () => post({ to: '0412345678', text: 'a'.repeat(919) }),
      400,
      'FIELD_INVALID',
      /^text: at most 918/,
    ],
    [
      'GSM text of 460 euro signs (920 septets)',
      () => post({ to: '0412345678', text: '€'.repeat(460) }),
      400,
      'FIELD_INVALID',
      /^text: at most 918/,
    ],
    [
      'Unicode text over 402 characters',
      () => post({ to: '0412345678', text: 'ж'.repeat(403) }),
      400,
      'FIELD_INVALID',
      /^text: at most 402/,
    ],
    [
      'a past scheduleAt',
      () => post({ to: '0412345678', text: 'hi', scheduleAt: '2001-01-01T00:00:00Z' }),
      400,
      'FIELD_INVALID',
      /^scheduleAt:/,
    ],
    [
      'an unknown field',
      () => post({ to: '0412345678', text: 'hi', tenantId: 'beta' }),
      400,
      'FIELD_INVALID',
      /^tenantId: unknown field$/,
    ],
    [
      'a misspelt text field',
      () => post({ to: '0412345678', mesage: 'hi' }),
      400,
      'FIELD_INVALID',
      /^mesage: unknown field$/,
    ],
    [
      'an AU landline',
      () => post({ to: '02 9374 4000', text: 'hi' }),
      400,
      'RECIPIENTS_ERROR',
      /^to: '02 9374 4000' is a fixed_line number; this tenant may send only to mobile/,
    ],
    [
      'a premium-rate number (+61 1900)',
      () => post({ to: ['0412345678', '+61 1900 123 456'], text: 'hi' }),
      400,
      'RECIPIENTS_ERROR',
      /^to\[1\]: '\+61 1900 123 456' is a premium_rate number/,
    ],
    [
      'a premium-rate number (1902)',
      () => post({ to: '1902 123 456', text: 'hi' }),
      400,
      'RECIPIENTS_ERROR',
      /^to: '1902 123 456' is a premium_rate number/,
    ],
    [
      'GSM text of 459 euro signs (918 septets, 7 segments)',
      () => post({ to: '0412345678', text: '€'.repeat(459) }),
      400,
      'FIELD_INVALID',
      /^text: at most 6 SMS segments, got 7$/,
    ],
    [
      'Unicode text of 201 emoji (402 units, 7 segments)',
      () => post({ to: '0412345678', text: '😀'.repeat(201) }),
      400,
      'FIELD_INVALID',
      /^text: at most 6 SMS segments, got 7$/,
    ],
    [
      'a JSON null body',
      () => postRaw('null', 'application/json'),
      400,
      'FIELD_INVALID',
      /^body: must be a JSON object, got null$/,
    ],
    [
      'a JSON string body',
      () => postRaw('"hi"', 'application/json'),
      400,
      'FIELD_INVALID',
      /^body: must be a JSON object, got a string$/,
    ],
    [
      'JSON nested 10,000 levels deep',
      () => postRaw(nested(10_000), 'application/json'),
      400,
      'FIELD_INVALID',
      /^body: nested deeper than 32 levels$/,
    ],
    [
      'JSON nested 10,000 levels deep, with an Idempotency-Key',
      () => postRaw(nested(10_000), 'application/json').set('Idempotency-Key', 'deep-1'),
      400,
      'FIELD_INVALID',
      /^body: nested deeper than 32 levels$/,
    ],
    ['a wrongly typed field', () => post({ to: 412345678, text: 'hi' }), 400, 'FIELD_INVALID', /^to:/],
    [
      'malformed JSON',
      () => postRaw('{"to": "0412345678", "text": ', 'application/json'),
      400,
      'FIELD_INVALID',
      /^body: malformed JSON/,
    ],
    [
      'a non-JSON body',
      () => postRaw('to=0412345678&text=hi', 'application/x-www-form-urlencoded'),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      /^Content-Type:/,
    ],
    ['a JSON array body', () => post([{ to: '0412345678' }]), 400, 'FIELD_INVALID', /^body:/],
  ];

  /** Built as text: supertest's own JSON.stringify would overflow the stack first. */
  function nested(depth: number): string {
    return `${'{"to":'.repeat(depth)}"0412345678"${'}'.repeat(depth)}`;
  }
  function post(body: unknown): request.Test {
    return request(gw.url)
      .post('/v1/messages')
      .set(bearer(tokenFor('alpha')))
      .send(body as object);
  }
  function postRaw(body: string, type: string): request.Test {
    return request(gw.url)
      .post('/v1/messages')
      .set(bearer(tokenFor('alpha')))
      .set('Content-Type', type)
      .send(body);
  }

  const rows = async (table: 'messages' | 'idempotency_keys') =>
    Number(
      (
        await gw.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );

  it.each(cases)('%s', async (_name, send, status, code, description) => {
    const before = { messages: await rows('messages'), keys: await rows('idempotency_keys') };
    const logged = captured.logLines.length;
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.description).toMatch(description);
    expect(sendCalls()).toHaveLength(0);
    expect({ messages: await rows('messages'), keys: await rows('idempotency_keys') }).toEqual(before);
    expect(captured.logLines.slice(logged).filter((line) => line.includes('unhandled error'))).toEqual([]);
  });
});

describe('tenant isolation and pagination', () => {
  let betaIds: string[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 30; i++) {
      const res = await request(gw.url)
        .post('/v1/messages')
        .set(bearer(tokenFor('ops', { scope: 'sms:send sms:read' })))
        .send({ to: '0412345678', text: `n${i}` });
      expect(res.status).toBe(201);
    }
    const beta = await request(gw.url)
      .post('/v1/messages')
      .set(bearer(tokenFor('beta')))
      .send({ to: ['0412345670', '0412345671'], text: 'beta only' });
    betaIds = beta.body.data.messages.map((m: { id: string }) => m.id);
  });

  it('pages 30 messages as 25 + 5 with the provider-style page block, newest first', async () => {
    const token = tokenFor('ops', { scope: 'sms:read' });
    const first = await request(gw.url).get('/v1/messages').set(bearer(token));
    expect(first.status).toBe(200);
    expect(first.body.data).toHaveLength(25);
    expect(first.body.page).toEqual({ count: 2, number: 1 });
    expect(first.body.data[0]).toMatchObject({ to: '+61412345678' });
    const second = await request(gw.url).get('/v1/messages?page=2').set(bearer(token));
    expect(second.body.data).toHaveLength(5);
    expect(second.body.page).toEqual({ count: 2, number: 2 });
    const ids = [...first.body.data, ...second.body.data].map((m: { id: string }) => m.id);
    expect(new Set(ids).size).toBe(30);
    expect([...ids].sort().reverse()).toEqual(ids);
    const past = await request(gw.url).get('/v1/messages?page=3').set(bearer(token));
    expect(past.body).toMatchObject({ data: [], page: { count: 2, number: 3 } });
  });

  it('reads on with ?after=<id> (a keyset cursor) exactly as ?page=2 does, and refuses a bad cursor', async () => {
    const token = tokenFor('ops', { scope: 'sms:read' });
    const first = await request(gw.url).get('/v1/messages').set(bearer(token));
    const second = await request(gw.url).get('/v1/messages?page=2').set(bearer(token));
    const last = first.body.data.at(-1).id as string;
    const after = await request(gw.url).get(`/v1/messages?after=${last}`).set(bearer(token));
    expect(after.status).toBe(200);
    expect(after.body.data).toEqual(second.body.data);
    expect(after.body.page).toEqual({ count: 2, number: 2 });
    const end = await request(gw.url)
      .get(`/v1/messages?after=${after.body.data.at(-1).id as string}`)
      .set(bearer(token));
    // Past the last message: empty, numbered as the page the next message would be on.
    expect(end.body).toMatchObject({ data: [], page: { count: 2, number: 2 } });

    const both = await request(gw.url).get(`/v1/messages?page=2&after=${last}`).set(bearer(token));
    expect(both.status).toBe(400);
    expect(both.body.error).toEqual({ code: 'FIELD_INVALID', description: expect.stringMatching(/^page:/) });
    const foreign = await request(gw.url).get(`/v1/messages?after=${betaIds[0]!}`).set(bearer(token));
    expect(foreign.status).toBe(404);
    expect(foreign.body.error).toEqual({
      code: 'NOT_FOUND',
      description: `after: no message '${betaIds[0]!}'`,
    });
    const empty = await request(gw.url).get('/v1/messages?after=').set(bearer(token));
    expect(empty.status).toBe(400);
    expect(empty.body.error.description).toMatch(/^after:/);
  });

  it.each(['0', '-1', 'x', '1.5', ''])('rejects page=%s with 400 FIELD_INVALID naming page', async (page) => {
    const res = await request(gw.url)
      .get(`/v1/messages?page=${page}`)
      .set(bearer(tokenFor('ops', { scope: 'sms:read' })));
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({ code: 'FIELD_INVALID', description: expect.stringMatching(/^page:/) });
  });

  it("never shows one tenant another tenant's messages", async () => {
    const ops = tokenFor('ops', { scope: 'sms:read' });
    for (const id of betaIds) {
      const res = await request(gw.url).get(`/v1/messages/${id}`).set(bearer(ops));
      expect(res.status).toBe(404);
      expect(res.body.error).toEqual({ code: 'NOT_FOUND', description: `message '${id}' not found` });
    }
    const pages = await Promise.all(
      [1, 2].map((p) => request(gw.url).get(`/v1/messages?page=${p}`).set(bearer(ops))),
    );
    const listed = pages.flatMap((p) => p.body.data.map((m: { id: string }) => m.id));
    expect(listed.filter((id: string) => betaIds.includes(id))).toEqual([]);
    const betaList = await request(gw.url)
      .get('/v1/messages')
      .set(bearer(tokenFor('beta')));
    expect(betaList.body.data.map((m: { id: string }) => m.id)).toEqual(expect.arrayContaining(betaIds));
    expect(
      betaList.body.data.map((m: { id: string }) => m.id).filter((id: string) => listed.includes(id)),
    ).toEqual([]);
  });
});
