import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import type { RunningServer } from '../../src/server';
import type { StoredEvent } from '../../src/store';
import { appendEvents } from '../../src/store/event-repository';
import { TEST_CALLBACK_TOKEN } from '../support/constants';
import { bearer, startTestGateway, tokenFor } from '../support/gateway';
import { ManualClock } from '../support/manual-clock';
import { openEventStream } from '../support/sse';
import { waitFor } from '../support/wait';

const inboundPath = `/v1/callbacks/cellcast/${TEST_CALLBACK_TOKEN}/inbound`;
let sequence = 0;

/** An inbound SMS routed to `tenant` by keyword: one `message.inbound` event for it. */
function inboundFor(gw: RunningServer, tenant: string, text: string) {
  sequence += 1;
  return request(gw.url)
    .post(inboundPath)
    .send([{ message_id: `IN-${Date.now()}-${sequence}`, from: '61412345678', body: `${tenant} ${text}` }])
    .expect(200);
}

const keywordRules = {
  inbound: {
    rules: [
      { keyword: 'alpha', tenant: 'alpha' },
      { keyword: 'beta', tenant: 'beta' },
    ],
  },
};
const textOf = (data: string) => (JSON.parse(data) as { data: { text: string } }).data.text;

describe('GET /v1/events (Server-Sent Events)', () => {
  const clock = new ManualClock(Date.now());
  let gw: RunningServer;
  beforeAll(async () => {
    gw = await startTestGateway({ ...keywordRules, events: { heartbeatMs: 50 } }, clock);
  });
  afterAll(() => gw.stop());

  const ticket = async (tenant = 'alpha') => {
    const res = await request(gw.url)
      .post('/v1/events/tickets')
      .set(bearer(tokenFor(tenant)));
    expect(res.status).toBe(201);
    return res.body.data as { ticket: string; expiresAt: string; url: string };
  };

  it('streams this tenant’s events with ids and heartbeats, and only this tenant’s', async () => {
    const stream = await openEventStream(`${gw.url}/v1/events`, bearer(tokenFor('alpha')));
    expect(stream.status).toBe(200);
    expect(stream.response.headers['content-type']).toMatch(/^text\/event-stream/);
    await inboundFor(gw, 'beta', 'not for alpha');
    await inboundFor(gw, 'alpha', 'first');
    const [event] = await waitFor(() => stream.events.length >= 1 && stream.events, 3000, 'the event');
    expect(event!.event).toBe('message.inbound');
    expect(textOf(event!.data)).toBe('alpha first');
    expect(event!.id).toMatch(/^\d+$/);
    await waitFor(() => stream.comments.includes('keep-alive'), 3000, 'a heartbeat');
    expect(stream.events).toHaveLength(1);
    stream.close();
  });

  it('a reconnect with Last-Event-ID replays exactly the missed events, then goes on live', async () => {
    const first = await openEventStream(`${gw.url}/v1/events`, bearer(tokenFor('alpha')));
    await inboundFor(gw, 'alpha', 'one');
    await inboundFor(gw, 'alpha', 'two');
    await waitFor(() => first.events.length === 2, 3000, 'two events');
    const lastSeen = first.events[1]!.id;
    first.close();

    // Missed while disconnected: three for alpha (and one for beta, which must not appear).
    for (const text of ['three', 'four', 'five']) await inboundFor(gw, 'alpha', text);
    await inboundFor(gw, 'beta', 'other tenant');

    const resumed = await openEventStream(`${gw.url}/v1/events`, {
      ...bearer(tokenFor('alpha')),
      'Last-Event-ID': lastSeen,
    });
    await waitFor(() => resumed.events.length === 3, 3000, 'the replay');
    await inboundFor(gw, 'alpha', 'six');
    await waitFor(() => resumed.events.length === 4, 3000, 'the live event');
    expect(resumed.events.map((e) => textOf(e.data))).toEqual([
      'alpha three',
      'alpha four',
      'alpha five',
      'alpha six',
    ]);
    const ids = resumed.events.map((e) => Number(e.id));
    expect(ids.every((id) => id > Number(lastSeen))).toBe(true);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    resumed.close();
  });

  it('a reconnect with a new ticket and ?lastEventId= replays the missed events (EventSource cannot set the header)', async () => {
    const first = await openEventStream(`${gw.url}${(await ticket()).url}`);
    await inboundFor(gw, 'alpha', 'before');
    await waitFor(() => first.events.length === 1, 3000, 'the first event');
    const lastSeen = first.events[0]!.id;
    first.close();
    for (const text of ['missed 1', 'missed 2']) await inboundFor(gw, 'alpha', text);

    const resumed = await openEventStream(`${gw.url}${(await ticket()).url}&lastEventId=${lastSeen}`);
    expect(resumed.status).toBe(200);
    await waitFor(() => resumed.events.length === 2, 3000, 'the replay');
    expect(resumed.events.map((e) => textOf(e.data))).toEqual(['alpha missed 1', 'alpha missed 2']);
    resumed.close();

    const malformed = await request(gw.url).get(`${(await ticket()).url}&lastEventId=abc`);
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toEqual({
      code: 'FIELD_INVALID',
      description: "lastEventId: expected an event id from this stream, got 'abc'",
    });
  });

  it('a ticket opens one stream, once; a used or expired ticket is refused', async () => {
    const { ticket: value, url } = await ticket();
    const stream = await openEventStream(`${gw.url}${url}`);
    expect(stream.status).toBe(200);
    await inboundFor(gw, 'alpha', 'via ticket');
    await waitFor(() => stream.events.length === 1, 3000, 'the event');
    stream.close();

    const reused = await request(gw.url).get(`/v1/events?ticket=${value}`);
    expect(reused.status).toBe(401);
    expect(reused.body.error).toEqual({
      code: 'AUTH_FAILED',
      description: 'ticket: unknown, expired or already used',
    });

    const late = await ticket();
    clock.advance(61_000);
    const expired = await request(gw.url).get(`/v1/events?ticket=${late.ticket}`);
    expect(expired.status).toBe(401);
    const forged = await request(gw.url).get('/v1/events?ticket=not-a-ticket');
    expect(forged.status).toBe(401);
  });

  it('refuses a stream without credentials, a ticket without sms:read, and a malformed Last-Event-ID', async () => {
    expect((await request(gw.url).get('/v1/events')).status).toBe(401);
    const sendOnly = await request(gw.url)
      .post('/v1/events/tickets')
      .set(bearer(tokenFor('alpha', { scope: 'sms:send' })));
    expect(sendOnly.status).toBe(403);
    const bad = await request(gw.url)
      .get('/v1/events')
      .set({ ...bearer(tokenFor('alpha')), 'Last-Event-ID': 'abc' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toEqual({
      code: 'FIELD_INVALID',
      description: "Last-Event-ID: expected an event id from this stream, got 'abc'",
    });
  });
});

describe('SSE across replicas (real Redis pub/sub, one shared store)', () => {
  let first: RunningServer;
  let second: RunningServer;
  beforeAll(async () => {
    const shared = {
      ...keywordRules,
      store: { sqliteFile: join(mkdtempSync(join(tmpdir(), 'smsgate-events-')), 'smsgate.db') },
      redis: { url: 'redis://127.0.0.1:6379', keyPrefix: `smsgate-test-${process.pid}-${Date.now()}` },
    };
    first = await startTestGateway(shared);
    second = await startTestGateway(shared);
  });
  afterAll(async () => {
    await first.stop();
    await second.stop();
  });

  it('an event taken in by one replica reaches a stream on the other, once', async () => {
    const onSecond = await openEventStream(`${second.url}/v1/events`, bearer(tokenFor('alpha')));
    const onFirst = await openEventStream(`${first.url}/v1/events`, bearer(tokenFor('alpha')));
    await new Promise((resolve) => setTimeout(resolve, 200)); // the subscriber connection is up
    await inboundFor(first, 'alpha', 'cross replica');
    await waitFor(() => onSecond.events.length === 1 && onFirst.events.length === 1, 3000, 'both streams');
    expect(onSecond.events[0]!.data).toBe(onFirst.events[0]!.data);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect([onFirst.events.length, onSecond.events.length]).toEqual([1, 1]);
    onSecond.close();
    onFirst.close();
  });
});

describe('GET /v1/events under the tenant limits', () => {
  const limited = {
    scopes: ['sms:send', 'sms:read'],
    allowedCountries: ['AU'],
    rateLimit: { requests: 4, windowSec: 60 },
  };
  let gw: RunningServer;
  beforeAll(async () => {
    gw = await startTestGateway({ tenants: { limited }, events: { maxStreamsPerTenant: 2 } });
  });
  afterAll(() => gw.stop());

  /** Opens a stream over real HTTP; a refusal is read to its end and its envelope parsed. */
  async function attempt(pathAndQuery: string, headers: Record<string, string> = {}) {
    const stream = await openEventStream(`${gw.url}${pathAndQuery}`, headers);
    if (stream.status === 200)
      return { status: 200, stream, headers: stream.response.headers, body: undefined };
    await stream.ended;
    const body = JSON.parse(stream.raw()) as { error: { code: string; description: string } };
    return { status: stream.status, stream, headers: stream.response.headers, body };
  }

  it('counts streams against the tenant rate limit, bearer and ticket alike', async () => {
    const ticket = await request(gw.url)
      .post('/v1/events/tickets')
      .set(bearer(tokenFor('limited')));
    expect(ticket.status).toBe(201);
    const opened = await attempt('/v1/events', bearer(tokenFor('limited')));
    expect(opened.status).toBe(200);
    opened.stream.close();
    expect(
      (
        await request(gw.url)
          .get('/v1/messages')
          .set(bearer(tokenFor('limited')))
      ).status,
    ).toBe(200);
    expect(
      (
        await request(gw.url)
          .get('/v1/messages')
          .set(bearer(tokenFor('limited')))
      ).status,
    ).toBe(200);

    // Four requests made (the stream among them): the limit is spent, for either form of the route.
    const overBearer = await Promise.all(
      Array.from({ length: 20 }, () => attempt('/v1/events', bearer(tokenFor('limited')))),
    );
    overBearer.filter((r) => r.status === 200).forEach((r) => r.stream.close());
    expect(overBearer.map((r) => r.status)).toEqual(Array.from({ length: 20 }, () => 429));
    expect(overBearer[0]!.body!.error).toEqual({
      code: 'OVER_LIMIT',
      description: expect.stringMatching(/^rate limit: this tenant may make 4 requests per 60 s/),
    });
    expect(Number(overBearer[0]!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const overTicket = await attempt(ticket.body.data.url as string);
    if (overTicket.status === 200) overTicket.stream.close();
    expect(overTicket.status).toBe(429);
    expect(overTicket.body!.error.code).toBe('OVER_LIMIT');
  });

  it('caps the open streams of a tenant (events.maxStreamsPerTenant) with 429 OVER_LIMIT', async () => {
    const first = await attempt('/v1/events', bearer(tokenFor('alpha')));
    const second = await attempt('/v1/events', bearer(tokenFor('alpha')));
    expect([first.status, second.status]).toEqual([200, 200]);
    const third = await attempt('/v1/events', bearer(tokenFor('alpha')));
    if (third.status === 200) third.stream.close();
    expect(third.status).toBe(429);
    expect(third.body!.error).toEqual({
      code: 'OVER_LIMIT',
      description:
        'events: this tenant already has 2 open streams on this replica (events.maxStreamsPerTenant); close one first',
    });
    expect(Number(third.headers['retry-after'])).toBeGreaterThanOrEqual(1);

    // Another tenant is not held back by alpha's streams.
    const beta = await attempt('/v1/events', bearer(tokenFor('beta')));
    expect(beta.status).toBe(200);

    first.stream.close();
    await waitFor(() => gw.gateway.streams.open() === 2, 3000, 'the closed stream to be let go');
    const again = await attempt('/v1/events', bearer(tokenFor('alpha')));
    expect(again.status).toBe(200);
    for (const opened of [second, beta, again]) opened.stream.close();
  });
});

describe('GET /v1/events with a client that stops reading', () => {
  let gw: RunningServer;
  beforeAll(async () => {
    gw = await startTestGateway({ events: { maxBufferedBytes: 65_536, replayLimit: 10_000 } });
  });
  afterAll(() => gw.stop());

  /** Stores `count` alpha events of about `size` bytes each and publishes them, as an intake would. */
  async function storeAndPublish(count: number, size: number): Promise<StoredEvent[]> {
    const at = new Date().toISOString();
    const stored = await gw.db.transaction().execute((trx) =>
      appendEvents(
        trx,
        Array.from({ length: count }, () => ({
          tenantId: 'alpha',
          type: 'message.inbound' as const,
          data: { text: 'x'.repeat(size) },
        })),
        at,
        () => false,
      ),
    );
    gw.gateway.events.publish(stored);
    return stored;
  }

  it('stops writing to it, then closes the stream past the buffer bound; Last-Event-ID replays the rest', async () => {
    const slow = await openEventStream(`${gw.url}/v1/events`, bearer(tokenFor('alpha')));
    expect(slow.status).toBe(200);
    const published = (await storeAndPublish(3, 100)).map((e) => e.id);
    await waitFor(() => slow.events.length === 3, 3000, 'the first events');
    slow.response.pause();
    // Loopback socket buffers hold a few MB before the server sees any backpressure: keep
    // publishing until the server gives up on the stream (at most 64 MB).
    for (let i = 0; i < 256 && gw.gateway.streams.open() > 0; i++) {
      published.push(...(await storeAndPublish(4, 65_536)).map((e) => e.id));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor(() => gw.gateway.streams.open() === 0, 5000, 'the server to close the slow stream');

    // The client resumes from the last event it saw, as EventSource does.
    slow.response.resume();
    await slow.ended;
    const seen = slow.events.map((e) => Number(e.id));
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen.length).toBeLessThan(published.length);
    const resumed = await openEventStream(`${gw.url}/v1/events`, {
      ...bearer(tokenFor('alpha')),
      'Last-Event-ID': String(seen.at(-1)),
    });
    await waitFor(
      () => seen.length + resumed.events.length >= published.length,
      10_000,
      'the replay of the missed events',
    );
    expect([...seen, ...resumed.events.map((e) => Number(e.id))]).toEqual(published);
    resumed.close();
  }, 60_000);
});
