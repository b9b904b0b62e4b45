import { createServer, Socket, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { systemClock } from '../../src/clock';
import { createLogger } from '../../src/observability';
import { createLocalSlotSource, createRedisSlotSource, type SlotSource } from '../../src/scheduler';

// The same contract runs against the in-process sliding log and the Redis one (a real Redis on
// 127.0.0.1:6379, as in CI). Redis keeps its own time (TIME), so these cases use real time with
// a short window instead of a manual clock.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const LIMIT = 5;
const WINDOW = 300;
const silent = createLogger({ level: 'silent', secrets: [] });
const opened: SlotSource[] = [];

function local(): SlotSource {
  return createLocalSlotSource(LIMIT, WINDOW, systemClock);
}

function redis(prefix = `test:${randomBytes(6).toString('hex')}`, url = REDIS_URL): SlotSource {
  const source = createRedisSlotSource({
    url,
    keyPrefix: prefix,
    limit: LIMIT,
    windowMs: WINDOW,
    fallback: createLocalSlotSource(2, WINDOW, systemClock),
    logger: silent,
  });
  opened.push(source);
  return source;
}

afterAll(() => Promise.all(opened.map((s) => s.close())));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each([
  ['in-process', () => local()],
  ['Redis', () => redis()],
])('%s slot source', (_name, make) => {
  it('admits `limit` calls in a window, then says how long to wait', async () => {
    const slots = make();
    for (let i = 0; i < LIMIT; i++) expect(await slots.tryAcquire()).toBe(0);
    const wait = await slots.tryAcquire();
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(WINDOW + 1);
    await sleep(wait + 5);
    expect(await slots.tryAcquire()).toBe(0);
  });

  it('never admits more than `limit` in any rolling window under concurrent callers', async () => {
    const slots = make();
    const admitted: number[] = [];
    const until = Date.now() + 3 * WINDOW;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (Date.now() < until) {
          const wait = await slots.tryAcquire();
          if (wait === 0) admitted.push(Date.now());
          else await sleep(Math.min(wait, 20));
        }
      }),
    );
    admitted.sort((a, b) => a - b);
    // Times are taken after the answer arrives, so allow the call's own latency at each edge.
    for (const start of admitted)
      expect(admitted.filter((t) => t >= start && t < start + WINDOW - 10).length).toBeLessThanOrEqual(LIMIT);
    expect(admitted.length).toBeGreaterThanOrEqual(LIMIT * 2);
  });

  it('holds every slot while paused', async () => {
    const slots = make();
    await slots.pause(200);
    const wait = await slots.tryAcquire();
    expect(wait).toBeGreaterThan(100);
    await sleep(wait + 5);
    expect(await slots.tryAcquire()).toBe(0);
  });
});

describe('the Redis slot source across replicas', () => {
  it('is one budget for every replica sharing the key prefix', async () => {
    const prefix = `test:${randomBytes(6).toString('hex')}`;
    const [a, b, c] = [redis(prefix), redis(prefix), redis(prefix)];
    const answers = await Promise.all([a, b, c, a, b, c, a, b].map((s) => s.tryAcquire()));
    expect(answers.filter((w) => w === 0)).toHaveLength(LIMIT);
  });

  it('a pause set by one replica holds the others', async () => {
    const prefix = `test:${randomBytes(6).toString('hex')}`;
    const [a, b] = [redis(prefix), redis(prefix)];
    await a.pause(1500);
    expect(await b.tryAcquire()).toBeGreaterThan(1000);
  });

  it('falls back to the local share when Redis is unreachable, and uses Redis again when it returns', async () => {
    // A loopback proxy in front of Redis stands in for the network: cutting it is "Redis stopped".
    const sockets = new Set<Socket>();
    let open = true;
    const proxy: Server = createServer((client) => {
      if (!open) return client.destroy();
      const upstream = new Socket();
      upstream.connect(6379, '127.0.0.1');
      client.pipe(upstream).pipe(client);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => sockets.delete(s));
      }
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const port = (proxy.address() as AddressInfo).port;
    const prefix = `test:${randomBytes(6).toString('hex')}`;
    const slots = redis(prefix, `redis://127.0.0.1:${port}`);
    try {
      await sleep(100);
      expect(await slots.tryAcquire()).toBe(0);
      open = false;
      for (const s of sockets) s.destroy();
      // The fallback allows 2 per window here: no hang, no error, the smaller cap holds.
      const during = await Promise.all(Array.from({ length: 6 }, () => slots.tryAcquire()));
      expect(during.filter((w) => w === 0)).toHaveLength(2);
      open = true;
      const direct = new Redis(REDIS_URL);
      await direct.del(`${prefix}:log`);
      await direct.quit();
      let recovered = false;
      for (let i = 0; i < 50 && !recovered; i++) {
        await sleep(100);
        const answers = await Promise.all(Array.from({ length: 4 }, () => slots.tryAcquire()));
        // Redis allows 5 a window where the fallback allowed 2: more than 2 at once means Redis answers.
        recovered = answers.filter((w) => w === 0).length > 2;
      }
      expect(recovered).toBe(true);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    }
  }, 15_000);
});
