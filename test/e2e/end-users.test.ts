import request from 'supertest';
import type { RunningServer } from '../../src/server';
import { TEST_CALLBACK_TOKEN } from '../support/constants';
import { bearer, startTestGateway, tokenFor } from '../support/gateway';
import { openEventStream, type SseStream } from '../support/sse';
import { waitFor } from '../support/wait';

const callback = (kind: 'dlr' | 'inbound') => `/v1/callbacks/cellcast/${TEST_CALLBACK_TOKEN}/${kind}`;

/** mulberry32: a small seeded generator, so a failing interleaving can be run again. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const userToken = (sub: string, scope = 'sms:send sms:read') => tokenFor('alpha', { scope, extra: { sub } });

interface Sent {
  id: string;
  user: string;
  to: string;
}

describe('end users inside a tenant: sms:read sees only its own, sms:read:all the tenant', () => {
  const SEED = Number(process.env.END_USERS_SEED ?? 20261125);
  const USERS = Array.from({ length: 6 }, (_, i) => `user-${i}`);
  let gw: RunningServer;
  beforeAll(async () => {
    gw = await startTestGateway({
      tenants: { alpha: { scopes: ['sms:send', 'sms:read', 'sms:read:all'] } },
    });
  });
  afterAll(() => gw.stop());

  const allToken = () => userToken('backend', 'sms:send sms:read:all');

  async function readAll<T>(path: string, token: string): Promise<T[]> {
    const out: T[] = [];
    for (let page = 1; ; page += 1) {
      const res = await request(gw.url).get(`${path}?page=${page}`).set(bearer(token));
      expect(res.status).toBe(200);
      const data = (res.body as { data: T[] }).data;
      out.push(...data);
      if (data.length < 25) return out;
    }
  }

  it(`keeps ${USERS.length} users' messages, replies and events apart under random interleavings (seed ${SEED})`, async () => {
    const random = seeded(SEED);
    const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)] as T;
    const live = new Map<string, SseStream>();
    for (const user of USERS) {
      const ticket = await request(gw.url)
        .post('/v1/events/tickets')
        .set(bearer(userToken(user)));
      expect(ticket.status).toBe(201);
      live.set(
        user,
        await openEventStream(`${gw.url}${(ticket.body as { data: { url: string } }).data.url}`),
      );
    }
    const sent: Sent[] = [];
    const providerIds = new Map<string, string>();
    const replies = new Map<string, string>(); // reply text → message id it answers
    let sequence = 0;

    const send = async (user: string) => {
      const to = `+61412${String(Math.floor(random() * 1e6)).padStart(6, '0')}`;
      const res = await request(gw.url)
        .post('/v1/messages')
        .set(bearer(userToken(user)))
        .send({ to, text: `from ${user}` });
      expect(res.status).toBe(201);
      const message = (res.body as { data: { messages: { id: string }[] } }).data.messages[0]!;
      sent.push({ id: message.id, user, to });
    };
    const providerIdOf = async (id: string) => {
      const known = providerIds.get(id);
      if (known) return known;
      const res = await request(gw.url).get(`/v1/messages/${id}`).set(bearer(allToken()));
      const providerId = (res.body as { data: { providerMessageId: string } }).data.providerMessageId;
      providerIds.set(id, providerId);
      return providerId;
    };
    const report = async (message: Sent) => {
      const status = pick(['Delivered', 'Failed', 'Queued']);
      await request(gw.url)
        .post(callback('dlr'))
        .send([{ message_id: await providerIdOf(message.id), status, recipient: message.to.slice(1) }])
        .expect(200);
    };
    const reply = async (message: Sent) => {
      sequence += 1;
      const text = `reply ${sequence}`;
      replies.set(text, message.id);
      await request(gw.url)
        .post(callback('inbound'))
        .send([
          {
            from: message.to.slice(1),
            body: text,
            message_id: `IN-${SEED}-${sequence}`,
            original_message_id: await providerIdOf(message.id),
            received_at: '2026-11-25 10:00:00',
            type: 'SMS',
          },
        ])
        .expect(200);
    };

    // Rounds of concurrent operations in random order: sends by random users, then reports and
    // replies about random messages already sent.
    for (let round = 0; round < 8; round += 1) {
      const operations: (() => Promise<void>)[] = [];
      const size = 3 + Math.floor(random() * 6);
      for (let i = 0; i < size; i += 1) {
        const roll = random();
        if (sent.length === 0 || roll < 0.5) {
          const user = pick(USERS);
          operations.push(() => send(user));
        } else {
          const message = pick(sent);
          operations.push(roll < 0.75 ? () => report(message) : () => reply(message));
        }
      }
      await Promise.all(operations.map((operation) => operation()));
    }
    expect(new Set(sent.map((s) => s.user)).size).toBeGreaterThan(1);
    const ownerOf = new Map(sent.map((s) => [s.id, s.user]));

    const allMessages = await readAll<{ id: string }>('/v1/messages', allToken());
    expect(allMessages.map((m) => m.id).sort()).toEqual(sent.map((s) => s.id).sort());
    const allInbound = await readAll<{ text: string }>('/v1/inbound', allToken());
    expect(allInbound.map((r) => r.text).sort()).toEqual([...replies.keys()].sort());

    const someoneElses = (user: string) => sent.find((s) => s.user !== user);
    for (const user of USERS) {
      const token = userToken(user);
      const own = sent.filter((s) => s.user === user).map((s) => s.id);
      const listed = await readAll<{ id: string }>('/v1/messages', token);
      expect(listed.map((m) => m.id).sort()).toEqual([...own].sort());
      const other = someoneElses(user);
      if (other) {
        const res = await request(gw.url).get(`/v1/messages/${other.id}`).set(bearer(token));
        expect(res.status).toBe(404);
      }
      const inbox = await readAll<{ text: string; replyTo: string }>('/v1/inbound', token);
      const ownReplies = [...replies].filter(([, id]) => ownerOf.get(id) === user).map(([text]) => text);
      expect(inbox.map((r) => r.text).sort()).toEqual(ownReplies.sort());

      // Replay from the start, by bearer: only events about the user's own messages.
      const replay = await openEventStream(`${gw.url}/v1/events`, { ...bearer(token), 'Last-Event-ID': '0' });
      const aboutOwn = (data: string) => {
        const event = JSON.parse(data) as { data: { messageId?: string; replyTo?: string } };
        return ownerOf.get(event.data.messageId ?? event.data.replyTo ?? '') === user;
      };
      // One event per delivery report that moved an own message, one per reply to an own message.
      let expected = ownReplies.length;
      for (const id of own) {
        const res = await request(gw.url).get(`/v1/messages/${id}`).set(bearer(token));
        const history = (res.body as { data: { history: { detail: string | null }[] } }).data.history;
        expected += history.filter((h) => h.detail?.startsWith('provider:')).length;
      }
      await waitFor(() => replay.events.length >= expected, 5000, `${user}'s replay`);
      replay.close();
      expect(replay.events).toHaveLength(expected);
      expect(replay.events.every((e) => aboutOwn(e.data))).toBe(true);
      // The live stream (opened by ticket before anything happened) saw the same events.
      const stream = live.get(user)!;
      await waitFor(() => stream.events.length >= expected, 5000, `${user}'s live events`);
      stream.close();
      expect(stream.events.every((e) => aboutOwn(e.data))).toBe(true);
      expect(stream.events.map((e) => e.id)).toEqual(replay.events.map((e) => e.id));
      expect(expected).toBeGreaterThanOrEqual(0);
    }

    // A token without sub owns only what was sent without one: none of these.
    const anonymous = await request(gw.url)
      .get('/v1/messages')
      .set(bearer(tokenFor('alpha')));
    expect((anonymous.body as { data: unknown[] }).data).toEqual([]);
  });
});

describe('sms:send:self: only the token’s own verified phone number', () => {
  let gw: RunningServer;
  beforeAll(async () => {
    gw = await startTestGateway({
      tenants: { alpha: { scopes: ['sms:send:self', 'sms:read', 'sms:read:all'] } },
      // A namespaced claim, as Auth0-style identity providers put custom claims.
      auth: { phoneNumberClaim: 'https://example.com/claims.phone' },
    });
  });
  afterAll(() => gw.stop());

  const OWN = '+61412345678';
  const selfToken = (claims: Record<string, unknown>) =>
    tokenFor('alpha', { scope: 'sms:send:self sms:read', extra: { sub: 'end-user', ...claims } });
  const send = (token: string, to: string) =>
    request(gw.url).post('/v1/messages').set(bearer(token)).send({ to, text: 'your code is 1234' });
  const ledger = async () =>
    (
      await request(gw.url)
        .get('/v1/messages')
        .set(bearer(tokenFor('alpha', { scope: 'sms:read:all' })))
    ).body as { data: { to: string }[] };
  const sendCalls = () => gw.sandbox!.calls.filter((c) => c.endpoint.startsWith('send'));

  it.each([
    ['no phone number claim', {}, OWN],
    [
      'an unverified number',
      { 'https://example.com/claims': { phone: OWN }, phone_number_verified: false },
      OWN,
    ],
    [
      'a verified claim that is not the boolean true',
      { 'https://example.com/claims': { phone: OWN }, phone_number_verified: 'true' },
      OWN,
    ],
    [
      'another recipient',
      { 'https://example.com/claims': { phone: OWN }, phone_number_verified: true },
      '0412999888',
    ],
    [
      'its own number among others',
      { 'https://example.com/claims': { phone: OWN }, phone_number_verified: true },
      [OWN, '0412999888'],
    ],
  ])('refuses %s: 403, nothing stored or sent', async (_what, claims, to) => {
    const res = await request(gw.url)
      .post('/v1/messages')
      .set(bearer(selfToken(claims)))
      .send({ to, text: 'your code is 1234' });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('FORBIDDEN');
    expect(res.body.error.description).toMatch(/sms:send:self/);
    expect((await ledger()).data).toEqual([]);
    expect(sendCalls()).toEqual([]);
  });

  it('sends to its own verified number, written any way', async () => {
    const token = selfToken({ 'https://example.com/claims': { phone: OWN }, phone_number_verified: true });
    const res = await send(token, '0412 345 678');
    expect(res.status).toBe(201);
    expect((await ledger()).data.map((m) => m.to)).toEqual([OWN]);
    expect(sendCalls()).toHaveLength(1);
  });

  it('refuses a token with neither sending scope', async () => {
    const res = await send(tokenFor('alpha', { scope: 'sms:read', extra: { sub: 'x' } }), OWN);
    expect(res.status).toBe(403);
    expect(res.body.error.description).toMatch(/sms:send/);
  });
});
