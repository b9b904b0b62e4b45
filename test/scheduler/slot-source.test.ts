import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { systemClock, type Clock } from '../../src/clock';
import { createLogger } from '../../src/observability';
import {
  createLocalSlotSource,
  createRedisSlotSource,
  type RedisSlotSource,
  type SlotSource,
} from '../../src/scheduler';
import { startRedisProxy } from '../support/redis-proxy';
import { ManualClock } from '../support/manual-clock';
import { waitFor } from '../support/wait';

// The same contract runs against the in-process sliding log and the Redis one (a real Redis on
// 127.0.0.1:6379, as in CI). The Redis script is timed by the test's manual clock here
// (scriptTime: 'clock'); one case keeps Redis's own TIME, the production setting.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const LIMIT = 5;
const WINDOW = 300;
/** Grants an idle source gives at once in these tests (the default, DEFAULT_GRANT_BURST, today). */
const BURST = 3;
const silent = createLogger({ level: 'silent', secrets: [] });
const opened: SlotSource[] = [];

function local(clock: Clock): SlotSource {
  return createLocalSlotSource(LIMIT, WINDOW, clock, { burst: BURST });
}

function redis(
  clock: Clock,
  {
    prefix = `test:${randomBytes(6).toString('hex')}`,
    url = REDIS_URL,
    limit = LIMIT,
    windowMs = WINDOW,
    replicas = 1,
    scriptTime = 'clock',
    burst = BURST,
  }: {
    prefix?: string;
    url?: string;
    limit?: number;
    windowMs?: number;
    replicas?: number;
    scriptTime?: 'clock' | 'redis';
    burst?: number;
  } = {},
): RedisSlotSource {
  const source = createRedisSlotSource({
    url,
    keyPrefix: prefix,
    limit,
    windowMs,
    replicas,
    clock,
    logger: silent,
    scriptTime,
    burst,
  });
  opened.push(source);
  return source;
}

afterAll(() => Promise.all(opened.map((s) => s.close())));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Most grants the provider could count in one second: calls at most 1000 ms apart, both ends counted. */
function mostInAnySecond(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; j < sorted.length; j++) {
    while (sorted[j]! - sorted[i]! > 1000) i++;
    most = Math.max(most, j - i + 1);
  }
  return most;
}

/** Takes every slot the source gives for `ms` of manual time, moving the clock to each answer's wait. */
async function saturate(slots: SlotSource, clock: ManualClock, ms: number): Promise<number[]> {
  const granted: number[] = [];
  const until = clock.now() + ms;
  while (clock.now() < until) {
    const wait = await slots.tryAcquire();
    if (wait === 0) granted.push(clock.now());
    else clock.advance(Math.min(wait, until - clock.now()));
  }
  return granted;
}

describe.each([
  ['in-process', (clock: ManualClock) => local(clock)],
  ['Redis', (clock: ManualClock) => redis(clock)],
])('%s slot source', (_name, make) => {
  it('admits at most `limit` calls in any window: its burst at once when idle, the rest spread across it', async () => {
    const clock = new ManualClock(1_000_000);
    const slots = make(clock);
    const granted = await saturate(slots, clock, 4 * WINDOW);
    for (let i = LIMIT; i < granted.length; i++)
      expect(granted[i]! - granted[i - LIMIT]!).toBeGreaterThan(WINDOW);
    expect(granted.slice(0, BURST)).toEqual(Array(BURST).fill(1_000_000));
    // Paced: never BURST + 1 grants closer than half the even spacing (window / limit).
    for (let i = BURST; i < granted.length; i++)
      expect(granted[i]! - granted[i - BURST]!).toBeGreaterThanOrEqual(WINDOW / LIMIT / 2);
    // ... and from the second window on, no burst at all: a full log does not release one.
    const later = granted.filter((at) => at > 1_000_000 + WINDOW);
    for (let i = 1; i < later.length; i++)
      expect(later[i]! - later[i - 1]!).toBeGreaterThanOrEqual(WINDOW / LIMIT / 2);
    // ... and still the whole budget: `limit` per window, less the 1 ms each window adds.
    expect(granted.length).toBeGreaterThanOrEqual(4 * LIMIT - 1);
  });

  it('answers how long to wait, and takes no slot when it says wait', async () => {
    const clock = new ManualClock(1_000_000);
    const slots = make(clock);
    for (let i = 0; i < BURST; i++) expect(await slots.tryAcquire()).toBe(0); // idle: the burst at once
    const wait = await slots.tryAcquire();
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(Math.ceil((WINDOW + 1) / LIMIT));
    expect(await slots.tryAcquire()).toBe(wait); // the refused ask did not move anything
    clock.advance(wait);
    expect(await slots.tryAcquire()).toBe(0);
  });

  it('holds every slot while paused', async () => {
    const clock = new ManualClock(1_000_000);
    const slots = make(clock);
    await slots.pause(2000);
    expect(await slots.tryAcquire()).toBe(2000);
    clock.advance(1999);
    expect(await slots.tryAcquire()).toBe(1);
    clock.advance(1);
    expect(await slots.tryAcquire()).toBe(0);
  });
});

describe('the Redis slot source across replicas', () => {
  it("timed by Redis's own clock, never admits more than `limit` in any rolling window under concurrent callers", async () => {
    const slots = redis(systemClock, { scriptTime: 'redis' });
    // Each grant ran in Redis somewhere between the ask and the answer; on a busy host that can be
    // a while, so only a certain breach counts: limit + 1 grants from first ask to last answer
    // within one window.
    const admitted: { askedAt: number; answeredAt: number }[] = [];
    const until = Date.now() + 4 * WINDOW;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (Date.now() < until) {
          const askedAt = Date.now();
          const wait = await slots.tryAcquire();
          if (wait === 0) admitted.push({ askedAt, answeredAt: Date.now() });
          else await sleep(Math.min(wait, 20));
        }
      }),
    );
    admitted.sort((a, b) => a.askedAt - b.askedAt);
    for (let i = LIMIT; i < admitted.length; i++) {
      const group = admitted.slice(i - LIMIT, i + 1);
      const span = Math.max(...group.map((g) => g.answeredAt)) - admitted[i - LIMIT]!.askedAt;
      expect(span).toBeGreaterThan(WINDOW);
    }
    expect(admitted.length).toBeGreaterThanOrEqual(LIMIT * 2);
  });

  it('is one budget for every replica sharing the key prefix', async () => {
    const clock = new ManualClock(1_000_000);
    const prefix = `test:${randomBytes(6).toString('hex')}`;
    const replicas = [0, 1, 2].map(() => redis(clock, { prefix, replicas: 3 }));
    const granted: number[] = [];
    // Every replica asks at every millisecond of one window: together they get `limit`, no more.
    for (let t = 0; t <= WINDOW; t++) {
      const answers = await Promise.all(replicas.map((s) => s.tryAcquire()));
      for (const wait of answers) if (wait === 0) granted.push(clock.now());
      clock.advance(1);
    }
    expect(granted).toHaveLength(LIMIT);
  });

  it('two or three replicas share one burst: an idle budget gives BURST at once in all, then one per spacing', async () => {
    for (const count of [2, 3]) {
      const clock = new ManualClock(1_000_000);
      const prefix = `test:${randomBytes(6).toString('hex')}`;
      const replicas = Array.from({ length: count }, () =>
        redis(clock, { prefix, replicas: count, limit: 15, windowMs: 1050 }),
      );
      // Every replica is heard from first (until then the log holds back the share of each one
      // missing, see ACQUIRE); 400 ms later, still live, the burst allowance has refilled.
      await Promise.all(replicas.map((s) => s.tryAcquire()));
      clock.advance(400);
      const granted: number[] = [];
      // Every replica asks twice at every millisecond for three windows: all of them always waiting.
      for (let t = 0; t < 3 * 1051; t++) {
        const answers = await Promise.all([...replicas, ...replicas].map((s) => s.tryAcquire()));
        for (const wait of answers) if (wait === 0) granted.push(clock.now() - 1_000_400);
        clock.advance(1);
      }
      expect({ count, first: granted.slice(0, BURST + 1) }).toEqual({ count, first: [0, 0, 0, 70] });
      const spacing = 1051 / 15;
      for (let i = BURST; i < granted.length; i++)
        expect(granted[i]! - granted[i - BURST]!).toBeGreaterThanOrEqual(spacing - 2);
      // From the second window on, one grant per spacing: the log's release is no burst either.
      const later = granted.filter((at) => at > 1051);
      for (let i = 1; i < later.length; i++)
        expect(later[i]! - later[i - 1]!).toBeGreaterThanOrEqual(spacing - 2);
      expect(mostInAnySecond(granted)).toBe(15);
      expect(granted.length).toBeGreaterThanOrEqual(3 * 15 - 1);
    }
  }, 60_000);

  it('a quiet replica after a lull gets its grants at once while another replica is idle', async () => {
    const clock = new ManualClock(1_000_000);
    const prefix = `test:${randomBytes(6).toString('hex')}`;
    const [a, b] = [redis(clock, { prefix, replicas: 2 }), redis(clock, { prefix, replicas: 2 })];
    // Pairs of calls every 200 ms, alternately on each replica: well under the cap, never a wait.
    for (let i = 0; i < 20; i++) {
      const replica = i % 2 === 0 ? a : b;
      expect(await Promise.all([replica.tryAcquire(), replica.tryAcquire()])).toEqual([0, 0]);
      clock.advance(200);
    }
  });

  it('a pause set by one replica holds the others', async () => {
    const clock = new ManualClock(1_000_000);
    const prefix = `test:${randomBytes(6).toString('hex')}`;
    const [a, b] = [redis(clock, { prefix, replicas: 2 }), redis(clock, { prefix, replicas: 2 })];
    await a.pause(1500);
    expect(await b.tryAcquire()).toBe(1500);
  });
});

describe('the Redis slot source when Redis is lost and comes back', () => {
  /** Three saturated replicas, each reaching Redis through its own loopback proxy, on a manual clock. */
  async function cluster() {
    const clock = new ManualClock(1_000_000);
    const prefix = `test:${randomBytes(6).toString('hex')}`;
    const proxies = await Promise.all([0, 1, 2].map(() => startRedisProxy()));
    const replicas = proxies.map((p) =>
      redis(clock, { prefix, url: p.url, limit: 15, windowMs: 1050, replicas: 3 }),
    );
    const grants: { at: number; replica: number; mode: string }[] = [];
    // Each replica always has calls waiting and asks for a slot every 5 ms of manual time.
    const askAll = async () => {
      const answers = await Promise.all(replicas.map((s) => s.tryAcquire()));
      answers.forEach((wait, replica) => {
        if (wait === 0) grants.push({ at: clock.now(), replica, mode: replicas[replica]!.mode() });
      });
    };
    const runFor = async (ms: number) => {
      for (const until = clock.now() + ms; clock.now() < until; clock.advance(5)) await askAll();
    };
    /** Asks (at the same instant) until every replica's answers come from `mode`. */
    const untilAll = (mode: 'redis' | 'fallback', which = [0, 1, 2]) =>
      waitFor(
        async () => {
          await askAll();
          return which.every((r) => replicas[r]!.mode() === mode);
        },
        10_000,
        `replicas ${which.join(', ')} on ${mode}`,
      );
    const bringBack = async (replica: number) => {
      proxies[replica]!.restore();
      await untilAll('redis', [replica]);
    };
    await waitFor(async () => {
      await askAll();
      return grants.length > 0;
    });
    return { clock, prefix, proxies, grants, runFor, untilAll, bringBack };
  }

  it('three saturated replicas: no second, as the provider counts, holds more than the cap through both switches', async () => {
    const { clock, proxies, grants, runFor, untilAll, bringBack } = await cluster();
    try {
      await runFor(3000);
      // Redis goes away for every replica at once, mid-flood.
      for (const p of proxies) p.cut();
      await untilAll('fallback');
      await runFor(4000);
      // It comes back for one replica at a time, more than a window apart.
      await bringBack(0);
      await runFor(1500);
      await bringBack(1);
      await runFor(1500);
      await bringBack(2);
      await runFor(3000);

      expect(mostInAnySecond(grants.map((g) => g.at))).toBeLessThanOrEqual(15);
      // Not vacuous: the fallback shares were used during the outage, and Redis again after it.
      expect(grants.filter((g) => g.mode === 'fallback').length).toBeGreaterThanOrEqual(3 * 8);
      const end = clock.now();
      expect(grants.filter((g) => g.at > end - 2000 && g.mode === 'redis').length).toBeGreaterThanOrEqual(20);
    } finally {
      await Promise.all(proxies.map((p) => p.close()));
    }
  }, 60_000);

  it('Redis back within a window but restarted empty: the replicas wait out the window before using it', async () => {
    const { clock, prefix, proxies, grants, runFor, untilAll, bringBack } = await cluster();
    try {
      await runFor(3000);
      const lostAt = clock.now();
      for (const p of proxies) p.cut();
      await untilAll('fallback');
      // A restart loses the log (and who was live) with it.
      const direct = new Redis(REDIS_URL);
      await direct.del(`${prefix}:log`, `${prefix}:live`, `${prefix}:pace`);
      await direct.quit();
      await runFor(100);
      for (const replica of [0, 1, 2]) await bringBack(replica);
      await runFor(3000);

      // The log lost the last window's grants, so nobody may take a slot until that window is over
      // (pacing alone kept the count down here, but only the log is a cap).
      expect(grants.filter((g) => g.at > lostAt && g.at <= lostAt + 1050)).toEqual([]);
      expect(mostInAnySecond(grants.map((g) => g.at))).toBeLessThanOrEqual(15);
      const end = clock.now();
      expect(grants.filter((g) => g.at > end - 2000 && g.mode === 'redis').length).toBeGreaterThanOrEqual(20);
    } finally {
      await Promise.all(proxies.map((p) => p.close()));
    }
  }, 60_000);
});
