import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import request from 'supertest';
import { createSandbox, type Sandbox } from '../../src/sandbox';
import type { RunningServer } from '../../src/server';
import { TEST_APPKEY } from '../support/constants';
import { bearer, startTestGateway, tokenFor } from '../support/gateway';
import { waitFor } from '../support/wait';

// Two gateway replicas sharing one Redis (a real server on 127.0.0.1:6379) and one provider.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('the upstream budget across replicas', () => {
  let sandbox: Sandbox;
  let replicas: RunningServer[];
  const keyPrefix = `test-${randomBytes(6).toString('hex')}`;
  const redis = new Redis(REDIS_URL);

  beforeAll(async () => {
    sandbox = createSandbox({ appKeys: [TEST_APPKEY], callsPerSecond: 15, pageSize: 25, dlrDelayMs: 60_000 });
    await sandbox.start();
    const shared = {
      mode: 'production',
      http: { requireHttps: false },
      // Two gateways, the sandbox and Jest share one event loop here, so a call can reach the
      // provider well after it took its slot; the margin covers that (see upstream.windowMarginMs).
      upstream: { baseUrl: sandbox.apiUrl, maxQueueWaitMs: 8000, windowMarginMs: 150 },
      redis: { url: REDIS_URL, keyPrefix },
      cluster: { replicas: 2 },
    };
    replicas = await Promise.all([startTestGateway(shared), startTestGateway(shared)]);
    // A replica whose Redis connection is not ready yet takes its slots from its local fallback
    // share, which a shared pause cannot reach. Start once both take them from the shared log:
    // each sends one message, and both their slot ids must be in it.
    await waitFor(
      async () => {
        await Promise.all(replicas.map((replica, i) => send(replica, `warm-up ${i}`)));
        const members = await redis.zrange(`${keyPrefix}:upstream:log`, 0, -1);
        return new Set(members.map((member) => member.split('-')[0])).size === replicas.length;
      },
      60_000,
      'both replicas on the shared budget',
    );
    sandbox.reset();
  }, 90_000);
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await sandbox.stop();
    redis.disconnect();
  });

  const send = (replica: RunningServer, text: string) =>
    request(replica.url)
      .post('/v1/messages')
      .set(bearer(tokenFor('alpha')))
      .send({ to: '0412345678', text });

  it('after a provider 429 with Retry-After: 2, no replica calls the provider for 2 s, and the client still gets its 201', async () => {
    sandbox.setFaults({
      respondWith: {
        httpStatus: 429,
        status: 'OVER_LIMIT',
        msg: 'over',
        headers: { 'Retry-After': '2' },
        times: 1,
      },
    });
    const first = send(replicas[0]!, 'one').then((res) => res); // supertest sends only once awaited
    // Once the provider has answered 429 and the gateway has paused the shared budget (the pause
    // key is in Redis), the other replica sends. A call already on the wire before the 429 could
    // not be held back.
    await waitFor(
      async () => (await redis.pttl(`${keyPrefix}:upstream:pause`)) > 0,
      10_000,
      'the shared pause',
    );
    expect(sandbox.calls.map((c) => c.status)).toEqual([429]);
    const second = send(replicas[1]!, 'two');
    const [a, b] = await Promise.all([first, second]);

    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    const calls = sandbox.calls.filter((c) => c.endpoint === 'send-sms');
    expect(calls.map((c) => c.status)).toEqual([429, 200, 200]);
    const throttledAt = calls[0]!.at;
    for (const call of calls.slice(1)) expect(call.at - throttledAt).toBeGreaterThanOrEqual(1990);
  }, 20_000);

  it('holds the account cap across both replicas: 40 sends at once reach the provider at ≤ 15 in any second', async () => {
    sandbox.reset();
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => send(replicas[i % 2]!, `burst ${i}`)),
    );
    expect(results.map((r) => r.status)).toEqual(Array(40).fill(201));
    const times = sandbox.calls.filter((c) => c.endpoint === 'send-sms').map((c) => c.at);
    expect(sandbox.calls.map((c) => c.status).filter((status) => status !== 200)).toEqual([]);
    for (const start of times)
      expect(times.filter((t) => t >= start && t < start + 1000).length).toBeLessThanOrEqual(15);
  }, 20_000);
});
