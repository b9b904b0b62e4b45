import { EventSource } from 'eventsource';
import { createClient, SmsgateError, type GatewayEvent, type SmsgateClient } from '../src';
import { waitFor } from '../../test/support/wait';
import { clientToken, startGatewayForClient, type RunningGatewayProcess } from './support/gateway-process';

// The client against smsgate running as its own process, over real HTTP. Nothing here sleeps:
// the client waits through an injected `sleep`, which records what it was asked to wait and
// returns when the test says.

const TENANTS = {
  alpha: { scopes: ['sms:send', 'sms:read'], allowedCountries: ['AU'] },
  // Two requests an hour: the third is 429 with a Retry-After of up to an hour.
  tight: {
    scopes: ['sms:send', 'sms:read'],
    allowedCountries: ['AU'],
    rateLimit: { requests: 2, windowSec: 3600 },
  },
  // Sends verification codes with its template.
  verifier: {
    scopes: ['verify:send', 'verify:check'],
    allowedCountries: ['AU'],
    templates: {
      verify: { text: 'Verifier code {{code}}', fields: { code: { type: 'digits', maxLength: 10 } } },
    },
    verification: { template: 'verify' },
  },
};

/** fetch that keeps every request the client made (method, path, Idempotency-Key, status). */
function recordingFetch() {
  const requests: { method: string; path: string; key: string | null; status: number }[] = [];
  const fetchImpl = async (request: Request) => {
    const key = request.headers.get('idempotency-key');
    const response = await fetch(request);
    requests.push({
      method: request.method,
      path: new URL(request.url).pathname,
      key,
      status: response.status,
    });
    return response;
  };
  return { requests, fetchImpl };
}

/** A sleep that returns at once and remembers each wait. */
function recordingSleep() {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
}

describe('@smsgate/client against a gateway process', () => {
  let gw: RunningGatewayProcess;
  beforeAll(async () => {
    gw = await startGatewayForClient({ tenants: TENANTS });
  }, 60_000);
  afterAll(() => gw?.stop());

  const sandboxSends = async () =>
    (
      (await (await fetch(`${gw.sandboxUrl}/_sandbox/calls`)).json()) as {
        endpoint: string;
        status: number;
      }[]
    ).filter((call) => call.endpoint === 'send-sms' && call.status === 200).length;
  const setFaults = (faults: Record<string, unknown>) =>
    fetch(`${gw.sandboxUrl}/_sandbox/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(faults),
    });

  it('send(): one SMS with an automatic Idempotency-Key; the same key again is replayed, not sent twice', async () => {
    const { requests, fetchImpl } = recordingFetch();
    const client = createClient({ baseUrl: `${gw.url}/`, token: clientToken('alpha'), fetch: fetchImpl });
    const before = await sandboxSends();
    const sent = await client.send({ to: '0412345678', text: 'Hello from the client' });
    expect(sent).toMatchObject({ status: 201, replayed: false, attempts: 1, total: 1 });
    expect(sent.idempotencyKey).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(sent.messages[0]).toMatchObject({ to: '+61412345678', status: 'sent' });
    expect(requests).toEqual([
      { method: 'POST', path: '/v1/messages', key: sent.idempotencyKey, status: 201 },
    ]);

    const again = await client.send(
      { to: '0412345678', text: 'Hello from the client' },
      { idempotencyKey: sent.idempotencyKey },
    );
    expect(again).toMatchObject({ status: 201, replayed: true, idempotencyKey: sent.idempotencyKey });
    expect(again.messages.map((m) => m.id)).toEqual(sent.messages.map((m) => m.id));
    expect((await sandboxSends()) - before).toBe(1);

    // A fresh call is a fresh key.
    const other = await client.send({ to: '0412345678', text: 'Another one' });
    expect(other.idempotencyKey).not.toBe(sent.idempotencyKey);
  });

  it('send(): a 503 with Retry-After is waited out (injected sleep) and retried with the same key; sent once', async () => {
    // The provider throttles four calls: the gateway's own three retries, then it answers 503 with
    // the provider's Retry-After; the client's retry goes through.
    await setFaults({
      respondWith: {
        httpStatus: 429,
        status: 'OVER_LIMIT',
        msg: 'slow down',
        headers: { 'Retry-After': '1' },
        times: 4,
      },
    });
    const { requests, fetchImpl } = recordingFetch();
    const { waits, sleep } = recordingSleep();
    const client = createClient({ baseUrl: gw.url, token: clientToken('alpha'), fetch: fetchImpl, sleep });
    const before = await sandboxSends();
    const sent = await client.send({ to: '0412345679', text: 'Through a throttled provider' });
    expect(sent).toMatchObject({ status: 201, attempts: 2, replayed: false });
    expect(requests.map((r) => [r.status, r.key])).toEqual([
      [503, sent.idempotencyKey],
      [201, sent.idempotencyKey],
    ]);
    expect(waits).toEqual([1000]);
    expect((await sandboxSends()) - before).toBe(1);
  }, 30_000);

  it('send(): a 429 is retried after its Retry-After up to maxRetries, and one longer than maxRetryDelayMs is not waited for', async () => {
    const token = clientToken('tight');
    const { requests, fetchImpl } = recordingFetch();
    const { waits, sleep } = recordingSleep();
    const patient = createClient({
      baseUrl: gw.url,
      token,
      fetch: fetchImpl,
      sleep,
      maxRetries: 2,
      maxRetryDelayMs: Infinity,
    });
    await patient.send({ to: '0412345678', text: 'one' });
    await patient.send({ to: '0412345678', text: 'two' });
    const refused = await patient.send({ to: '0412345678', text: 'three' }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(SmsgateError);
    expect(refused).toMatchObject({ status: 429, code: 'OVER_LIMIT' });
    const retryAfterMs = (refused as SmsgateError).retryAfterMs!;
    expect(retryAfterMs).toBeGreaterThan(60_000);
    expect(retryAfterMs).toBeLessThanOrEqual(3_600_000);
    // Waited twice, each time what the gateway said; three attempts, all with one key.
    expect(waits).toHaveLength(2);
    for (const wait of waits) expect(Math.abs(wait - retryAfterMs)).toBeLessThanOrEqual(2000);
    const third = requests.slice(2);
    expect(third.map((r) => r.status)).toEqual([429, 429, 429]);
    expect(new Set(third.map((r) => r.key)).size).toBe(1);

    // With the default bound (60 s), an hour's Retry-After is handed back at once.
    const { waits: none, sleep: neverCalled } = recordingSleep();
    const hasty = createClient({ baseUrl: gw.url, token, sleep: neverCalled });
    await expect(hasty.send({ to: '0412345678', text: 'four' })).rejects.toMatchObject({
      code: 'OVER_LIMIT',
    });
    expect(none).toEqual([]);
  });

  it('send(): a refusal no retry can fix is thrown at once, with the gateway’s code and description', async () => {
    const { waits, sleep } = recordingSleep();
    const client = createClient({ baseUrl: gw.url, token: clientToken('alpha'), sleep });
    const refused = await client.send({ to: 'not a number', text: 'x' }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(SmsgateError);
    expect(refused).toMatchObject({ status: 400, code: 'RECIPIENTS_ERROR' });
    expect((refused as SmsgateError).description).toMatch(/^to/);
    expect(waits).toEqual([]);
  });

  it('verify() and check(): a code by SMS; a wrong code is `denied` (an answer, not an error), the right one `approved`; a second code within the cooldown is refused, not retried', async () => {
    const { requests, fetchImpl } = recordingFetch();
    const { waits, sleep } = recordingSleep();
    const client = createClient({
      baseUrl: gw.url,
      token: clientToken('verifier', 'verify:send verify:check'),
      fetch: fetchImpl,
      sleep,
    });
    const verification = await client.verify({ to: '0412000111', channel: 'sms' });
    expect(verification).toMatchObject({ to: '+61412000111', status: 'pending' });
    expect(verification.id).toMatch(/^vrf_/);

    // The code as the phone got it: in the text the provider sandbox was asked to send.
    const calls = (await (await fetch(`${gw.sandboxUrl}/_sandbox/calls`)).json()) as { body: unknown }[];
    const code = calls
      .map((call) => /Verifier code ([0-9]{6})/.exec(JSON.stringify(call.body))?.[1])
      .find((found) => found !== undefined);
    expect(code).toMatch(/^[0-9]{6}$/);

    const wrong = code!.replace(/^./, (digit) => String((Number(digit) + 1) % 10));
    expect(await client.check(verification.id, wrong)).toMatchObject({
      id: verification.id,
      status: 'denied',
      reason: 'wrong_code',
      checksLeft: 4,
    });
    expect(await client.check(verification.id, code!)).toMatchObject({
      status: 'approved',
      reason: null,
    });

    const again = await client.verify({ to: '0412000111', channel: 'sms' }).catch((error: unknown) => error);
    expect(again).toBeInstanceOf(SmsgateError);
    expect(again).toMatchObject({ status: 429, code: 'OVER_LIMIT', retryAfterMs: 30_000 });
    expect(waits).toEqual([]);
    expect(requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      'POST /v1/verifications 201',
      `POST /v1/verifications/${verification.id}/check 200`,
      `POST /v1/verifications/${verification.id}/check 200`,
      'POST /v1/verifications 429',
    ]);
  });

  it('api: every route is typed and carries the token (GET /v1/messages/{id})', async () => {
    const client = createClient({ baseUrl: gw.url, token: async () => clientToken('alpha') });
    const sent = await client.send({ to: '0412345678', text: 'Typed read' });
    const id = sent.messages[0]!.id;
    const { data, response } = await client.api.GET('/v1/messages/{id}', { params: { path: { id } } });
    expect(response.status).toBe(200);
    expect(data?.data).toMatchObject({ id, text: 'Typed read' });
  });

  it('events(): a ticket, EventSource, `delivered` live; after a drop, a new ticket and a resume after the last event', async () => {
    // EventSource over fetch (the `eventsource` package); the test can cut a connection mid-stream.
    const connections: { url: string; cut: () => void }[] = [];
    class CuttableEventSource extends EventSource {
      constructor(url: string) {
        super(url, {
          fetch: async (input, init) => {
            const response = await fetch(input, init);
            const upstream = response.body!.getReader();
            let cut = () => undefined as void;
            // The body as the network delivers it, until the test cuts it: then it fails mid-stream,
            // as a dropped connection does.
            const body = new ReadableStream<Uint8Array>({
              start(controller) {
                cut = () => {
                  controller.error(new TypeError('terminated: connection reset'));
                  void upstream.cancel();
                };
              },
              async pull(controller) {
                const { done, value } = await upstream.read();
                if (done) controller.close();
                else controller.enqueue(value);
              },
              cancel: () => upstream.cancel(),
            });
            connections.push({ url: String(input), cut: () => cut() });
            return new Response(body, { status: response.status, headers: response.headers });
          },
        });
      }
    }
    let release: (() => void) | undefined;
    const reconnectWaits: number[] = [];
    const client = createClient({
      baseUrl: gw.url,
      token: clientToken('alpha'),
      EventSource: CuttableEventSource,
      // Reconnection waits until the test releases it.
      sleep: (ms) => {
        reconnectWaits.push(ms);
        return new Promise<void>((resolve) => (release = resolve));
      },
    });
    const received: GatewayEvent[] = [];
    const errors: { fatal: boolean }[] = [];
    let opens = 0;
    const subscription = client.events({
      onEvent: (event) => received.push(event),
      onOpen: () => (opens += 1),
      onError: (_error, fatal) => errors.push({ fatal }),
    });
    const statusesOf = (id: string) =>
      received.flatMap((e) =>
        e.type === 'message.status' && e.data.messageId === id ? [e.data.status] : [],
      );

    await waitFor(() => opens === 1, 5000, 'the stream to open');
    const first = (await client.send({ to: '0412345678', text: 'Watch me' })).messages[0]!.id;
    await waitFor(() => statusesOf(first).includes('delivered'), 10_000, '`delivered` for the first message');
    expect(statusesOf(first)).toEqual(['delivered']);
    const lastId = subscription.lastEventId;
    expect(lastId).toMatch(/^\d+$/);

    // The connection drops; while the client waits to reconnect, a second message is sent and delivered.
    connections[0]!.cut();
    await waitFor(() => release !== undefined, 5000, 'the client to wait before reconnecting');
    expect(errors).toEqual([{ fatal: false }]);
    const second = (await client.send({ to: '0412345678', text: 'Sent while you were away' })).messages[0]!
      .id;
    await waitFor(
      async () =>
        (await client.api.GET('/v1/messages/{id}', { params: { path: { id: second } } })).data?.data
          .status === 'delivered',
      10_000,
      'the second message delivered',
    );
    release!();
    await waitFor(() => statusesOf(second).includes('delivered'), 10_000, 'the replay of the missed events');

    // One new connection, with a new ticket, resuming after the last event seen: the missed events
    // came once each, and nothing of the first message came again.
    expect(connections).toHaveLength(2);
    const [a, b] = connections.map((c) => new URL(c.url));
    expect(b!.searchParams.get('ticket')).not.toBe(a!.searchParams.get('ticket'));
    expect(b!.searchParams.get('lastEventId')).toBe(lastId);
    expect(statusesOf(second)).toEqual(['delivered']);
    expect(statusesOf(first)).toEqual(['delivered']);
    expect(opens).toBe(2);
    expect(reconnectWaits).toEqual([1000]);
    subscription.close();
  }, 60_000);

  it('events(): a token without sms:read is refused for good — reported as fatal, never retried', async () => {
    const { waits, sleep } = recordingSleep();
    const client = createClient({
      baseUrl: gw.url,
      token: clientToken('alpha', 'sms:send'),
      EventSource,
      sleep,
    });
    const errors: { error: unknown; fatal: boolean }[] = [];
    client.events({ onEvent: () => undefined, onError: (error, fatal) => errors.push({ error, fatal }) });
    await waitFor(() => errors.length === 1, 5000, 'the refusal');
    expect(errors[0]).toMatchObject({ fatal: true, error: { status: 403, code: 'FORBIDDEN' } });
    expect(waits).toEqual([]);
  });

  it('events(): without an EventSource (React Native, Node) it says to pass one', () => {
    const client = createClient({ baseUrl: gw.url, token: 'unused' });
    const global = globalThis as { EventSource?: unknown };
    const saved = global.EventSource;
    delete global.EventSource;
    try {
      expect(() => client.events({ onEvent: () => undefined })).toThrow(/pass one in createClient/);
    } finally {
      if (saved !== undefined) global.EventSource = saved;
    }
  });
});

describe('retry timing without a gateway (injected fetch and clock)', () => {
  it('honours Retry-After given as an HTTP date, against the injected clock', async () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    const answers = [
      new Response(JSON.stringify({ data: {}, error: { code: 'OVER_LIMIT', description: 'rate limit' } }), {
        status: 429,
        headers: { 'content-type': 'application/json', 'retry-after': 'Thu, 01 Jan 2026 00:00:09 GMT' },
      }),
      new Response(
        JSON.stringify({
          data: { messages: [], total: 0, segments: 1 },
          error: { code: 'SUCCESS', description: 'ok' },
        }),
        { status: 201, headers: { 'content-type': 'application/json' } },
      ),
    ];
    const { waits, sleep } = recordingSleep();
    const client: SmsgateClient = createClient({
      baseUrl: 'https://sms.example.test',
      token: 't',
      fetch: async () => answers.shift()!,
      sleep,
      now: () => now,
    });
    const sent = await client.send({ to: '0412345678', text: 'x' });
    expect(sent.attempts).toBe(2);
    expect(waits).toEqual([9000]);
  });

  it('retries a network error with backoff (1 s, 2 s, …), then gives up with NETWORK_ERROR', async () => {
    const { waits, sleep } = recordingSleep();
    const client = createClient({
      baseUrl: 'https://sms.example.test',
      token: 't',
      fetch: async () => {
        throw new TypeError('fetch failed');
      },
      sleep,
      maxRetries: 3,
    });
    await expect(client.send({ to: '0412345678', text: 'x' })).rejects.toMatchObject({
      code: 'NETWORK_ERROR',
      status: 0,
      description: 'fetch failed',
    });
    expect(waits).toEqual([1000, 2000, 4000]);
  });
});
