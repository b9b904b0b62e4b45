import { connect, type Socket } from 'node:net';
import request from 'supertest';
import type { RunningServer } from '../../src/server';
import { bearer, startTestGateway, tokenFor } from '../support/gateway';
import { captured } from '../support/leak-guard';

// Refusals answered before Express (src/http/fast-refusal.ts): once a tenant's window is spent,
// its 429s are written by the raw request listener, byte for byte as Express wrote the first. The
// limiter's counter tells the two paths apart: Express counts a refusal, the fast path does not.

const T0 = Date.parse('2026-12-01T12:00:00.000Z');
const APP = 'https://app.flood.example';
const flood = {
  scopes: ['sms:send', 'sms:read'],
  allowedCountries: ['AU'],
  rateLimit: { requests: 2, windowSec: 60 },
  cors: { allowedOrigins: [APP] },
};

/** One keep-alive connection, written to and read from as bytes: the answers exactly as sent. */
class RawConnection {
  private buffer = Buffer.alloc(0);
  private wake: (() => void) | undefined;
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
  }

  static open(url: string): Promise<RawConnection> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  /** Writes one request and resolves with its whole answer (status line, headers and body). */
  async exchange(text: string): Promise<string> {
    this.socket.write(text);
    for (;;) {
      const answer = this.take();
      if (answer !== undefined) return answer;
      if (this.closed) throw new Error(`connection closed; received ${this.buffer.toString('latin1')}`);
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  close(): void {
    this.socket.destroy();
  }

  private take(): string | undefined {
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end === -1) return undefined;
    const head = this.buffer.subarray(0, end).toString('latin1');
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    if (this.buffer.length < end + 4 + length) return undefined;
    const answer = this.buffer.subarray(0, end + 4 + length).toString('utf8');
    this.buffer = this.buffer.subarray(end + 4 + length);
    return answer;
  }
}

const statusOf = (answer: string) => Number(answer.slice(9, 12));
/** The answer with what differs per request blanked: the date and the request id. */
const comparable = (answer: string) =>
  answer.replace(/^Date: .*$/im, 'Date: …').replace(/^X-Request-Id: .*$/im, 'X-Request-Id: …');

const get = (token: string, headers = '') =>
  `GET /v1/messages HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer ${token}\r\n${headers}\r\n`;
const post = (token: string, body: string) =>
  `POST /v1/messages HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer ${token}\r\n` +
  `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

describe('refusals answered before Express', () => {
  let gw: RunningServer;
  let connection: RawConnection;
  // jsonwebtoken, the token cache and express-rate-limit read Date.now: only Date is driven, so
  // the window's reset is reached by setting the time, and Retry-After does not move meanwhile.
  beforeAll(async () => {
    jest.useFakeTimers({
      doNotFake: [
        'nextTick',
        'setImmediate',
        'clearImmediate',
        'setInterval',
        'clearInterval',
        'setTimeout',
        'clearTimeout',
        'queueMicrotask',
        'hrtime',
        'performance',
      ],
      now: T0,
    });
    token = tokenFor('flood'); // issued at T0
    gw = await startTestGateway({ tenants: { flood } });
    connection = await RawConnection.open(gw.url);
  });
  afterAll(async () => {
    connection.close();
    await gw.stop();
    jest.useRealTimers();
  });

  let token = '';
  /** The flood tenant's requests counted by its limiter (read by an admin: counts nothing). */
  const counted = async (): Promise<number> => {
    const usage = await request(gw.url)
      .get('/v1/admin/usage')
      .set(bearer(tokenFor('ops', { scope: 'admin' })));
    const rows = usage.body.data as { tenant: string; rateLimit: { used: number } }[];
    return rows.find((row) => row.tenant === 'flood')!.rateLimit.used;
  };
  const refusalsInMetrics = async (): Promise<number> => {
    const text = (await request(gw.url).get('/metrics')).text;
    const line = /^smsgate_http_requests_total\{method="GET",route="unmatched",status="429"\} (\d+)$/m.exec(
      text,
    );
    return Number(line?.[1] ?? 0);
  };
  let byExpress = '';

  it('answers the refusals of a spent window itself, byte for byte as Express answered the first', async () => {
    expect(statusOf(await connection.exchange(get(token)))).toBe(200);
    expect(statusOf(await connection.exchange(get(token)))).toBe(200);
    byExpress = await connection.exchange(get(token));
    expect(statusOf(byExpress)).toBe(429);
    expect(byExpress).toMatch(/^RateLimit: "2-in-1min"; r=0; t=60\r$/m);
    expect(byExpress).toMatch(/^Retry-After: 60\r$/m);
    expect(await counted()).toBe(3);
    const metricsBefore = await refusalsInMetrics();

    const fast = await connection.exchange(get(token));
    expect(comparable(fast)).toBe(comparable(byExpress));
    expect(fast).not.toBe(byExpress); // its own request id
    // Not counted by the limiter: the fast path answered it. Counted in the metrics as Express would.
    expect(await counted()).toBe(3);
    expect(await refusalsInMetrics()).toBe(metricsBefore + 1);
    // And in the access log, under its request id (at debug: 429s are sampled at info).
    const id = /^X-Request-Id: (.*)\r$/m.exec(fast)![1];
    const line = captured.logLines
      .map((text) => JSON.parse(text) as Record<string, unknown>)
      .find((entry) => (entry.req as { id?: string } | undefined)?.id === id);
    expect(line).toMatchObject({ msg: 'GET /v1/messages 429', res: { statusCode: 429 } });
  });

  it('drains a refused body unread, so the connection goes on; a malformed body is refused 429 too', async () => {
    const sent = await connection.exchange(post(token, JSON.stringify({ to: '0412345678', text: 'hi' })));
    expect(statusOf(sent)).toBe(429);
    // Express answers a malformed body 400 before the rate limit; unread, it gets the 429.
    expect(statusOf(await connection.exchange(post(token, '{"to": ')))).toBe(429);
    expect(comparable(await connection.exchange(get(token)))).toBe(comparable(byExpress));
    expect(await counted()).toBe(3);
  });

  it('leaves to Express a token not in the cache, a bad token and a request with an Origin', async () => {
    const fresh = tokenFor('flood', { extra: { jti: 'not-seen-yet' } });
    expect(comparable(await connection.exchange(get(fresh)))).toBe(comparable(byExpress));
    expect(await counted()).toBe(4);

    const forged = await connection.exchange(
      get(tokenFor('flood', { secret: 'not-the-gateway-secret-0123456789' })),
    );
    expect(statusOf(forged)).toBe(401);

    const fromApp = await connection.exchange(get(token, `Origin: ${APP}\r\n`));
    expect(statusOf(fromApp)).toBe(429);
    expect(fromApp).toMatch(/^Access-Control-Allow-Origin: https:\/\/app\.flood\.example\r$/m);
    expect(await counted()).toBe(5);
  });

  it('lets the tenant through again once the window has reset', async () => {
    jest.setSystemTime(T0 + 59_999);
    const late = await connection.exchange(get(token));
    expect(statusOf(late)).toBe(429);
    expect(late).toMatch(/^Retry-After: 1\r$/m);
    jest.setSystemTime(T0 + 60_000);
    expect(statusOf(await connection.exchange(get(token)))).toBe(200);
    expect(await counted()).toBe(1);
  });

  it('while draining, says Connection: close as Express does', async () => {
    expect(statusOf(await connection.exchange(get(token)))).toBe(200);
    byExpress = await connection.exchange(get(token));
    expect(statusOf(byExpress)).toBe(429);
    gw.gateway.beginShutdown();
    const draining = await RawConnection.open(gw.url);
    try {
      const fast = await draining.exchange(get(token));
      expect(fast).toMatch(/^Connection: close\r$/m);
      const again = await RawConnection.open(gw.url);
      const viaExpress = await again.exchange(get(tokenFor('flood', { extra: { jti: 'draining' } })));
      again.close();
      expect(comparable(fast)).toBe(comparable(viaExpress));
      expect(await counted()).toBe(4);
    } finally {
      draining.close();
    }
  });
});
