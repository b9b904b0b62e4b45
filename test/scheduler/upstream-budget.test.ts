import { ApiError } from '../../src/http';
import {
  Pacer,
  SlidingLog,
  createLocalSlotSource,
  createUpstreamBudget,
  paceSpacing,
} from '../../src/scheduler';
import { UpstreamError } from '../../src/upstream';
import { settle, SteppingClock } from './stepping-clock';

describe('SlidingLog', () => {
  it('admits at most `limit` calls in any rolling window, including across a window edge', () => {
    const log = new SlidingLog(15, 1000);
    const admitted: number[] = [];
    for (let t = 0; t < 5000; t += 10) if (log.tryAcquire(t) === 0) admitted.push(t);
    for (const start of admitted) {
      expect(admitted.filter((t) => t >= start && t <= start + 1000).length).toBeLessThanOrEqual(15);
    }
    expect(admitted.length).toBeGreaterThanOrEqual(15 * 4);
  });

  it('says how long to wait for the next slot', () => {
    const log = new SlidingLog(2, 1000);
    expect(log.tryAcquire(0)).toBe(0);
    expect(log.tryAcquire(100)).toBe(0);
    expect(log.tryAcquire(200)).toBe(801);
    expect(log.tryAcquire(1001)).toBe(0);
  });
});

describe('Pacer', () => {
  it('spaces grants evenly; while calls wait, a late grant keeps the schedule; after a lull, no burst (burst 1)', () => {
    const pacer = new Pacer(100);
    expect(pacer.waitMs(0)).toBe(0);
    pacer.record(0);
    expect(pacer.waitMs(0)).toBe(100);
    pacer.record(130); // 30 ms late: the timer fired late
    expect(pacer.waitMs(130)).toBe(100); // with no burst allowance, lateness is not made up
    pacer.record(5000); // after a lull
    expect(pacer.waitMs(5000)).toBe(100);
  });

  it('with a burst of 3: an idle pacer grants 3 at once, then one per spacing; lateness under 2 spacings is made up', () => {
    const pacer = new Pacer(100, 3);
    for (let i = 0; i < 3; i++) {
      expect(pacer.waitMs(0)).toBe(0);
      pacer.record(0);
    }
    expect(pacer.waitMs(0)).toBe(100); // the fourth waits a spacing
    pacer.record(100);
    expect(pacer.waitMs(100)).toBe(100); // a backlog is served one per spacing
    pacer.record(330); // 130 ms late: due at 200
    expect(pacer.waitMs(330)).toBe(0); // due at 300: the schedule is kept
    pacer.record(330);
    expect(pacer.waitMs(330)).toBe(70); // back on the schedule: due at 400
    // A lull refills the allowance: 3 at once again, never more.
    for (let i = 0; i < 3; i++) {
      expect(pacer.waitMs(5000)).toBe(0);
      pacer.record(5000);
    }
    expect(pacer.waitMs(5000)).toBe(100);
  });

  it('counts a wait under 1 ms as none: a cap of thousands a second is not held to one call per ms', () => {
    const fine = new Pacer(paceSpacing(10_000, 1050)); // 0.105 ms apart
    for (let i = 0; i < 5; i++) {
      expect(fine.waitMs(7)).toBe(0); // five calls in the same millisecond all go
      fine.record(7);
    }
    // Early grants do not pull the schedule forward: a steady stream asking every ms gets the paced rate.
    const tight = new Pacer(1.5);
    let granted = 0;
    for (let now = 0; now < 300; now++) {
      if (tight.waitMs(now) === 0) {
        tight.record(now);
        granted += 1;
      }
    }
    expect(granted).toBeLessThanOrEqual(201); // 300 / 1.5, plus the first
    const coarse = new Pacer(70.07);
    coarse.record(0);
    expect(coarse.waitMs(69)).toBe(2); // 1.07 ms to go: waited, rounded up
    expect(coarse.waitMs(70)).toBe(0); // 0.07 ms early: goes
  });

  it('spaces `limit` grants over the window plus the 1 ms the log adds', () => {
    expect(paceSpacing(15, 1050)).toBeCloseTo(1051 / 15);
  });
});

describe('the upstream budget', () => {
  function setup({
    callsPerSecond = 2,
    maxQueueWaitMs = 3000,
    maxQueueLength = 100,
    weights = {},
    // The tests' numbers assume a burst of 3 (the default, DEFAULT_GRANT_BURST, today).
    burst = 3,
  }: {
    callsPerSecond?: number;
    maxQueueWaitMs?: number;
    maxQueueLength?: number;
    weights?: Record<string, number>;
    burst?: number;
  } = {}) {
    const clock = new SteppingClock(0);
    const budget = createUpstreamBudget({
      slots: createLocalSlotSource(callsPerSecond, 1000, clock, { burst }),
      callsPerSecond,
      weightOf: (t) => weights[t] ?? 1,
      maxQueueWaitMs,
      maxQueueLength,
      clock,
    });
    const started: { tenant: string; at: number }[] = [];
    const run = (tenant = 't') => budget.run(tenant, async () => started.push({ tenant, at: clock.now() }));
    return { clock, budget, started, run };
  }

  it('queues calls beyond the cap and starts them as slots free up, paced across the window', async () => {
    const { clock, started, run } = setup({ burst: 1 });
    const calls = [run(), run(), run(), run()];
    await clock.run(1000);
    // Two a second, spaced 500.5 ms apart.
    expect(started.map((s) => s.at)).toEqual([0, 501]);
    await clock.run(600);
    expect(started.map((s) => s.at)).toEqual([0, 501, 1001, 1502]);
    await Promise.all(calls);
  });

  it('an idle budget grants at once, up to its burst; a burst beyond the room waits in the queue, paced', async () => {
    const { clock, budget, started, run } = setup({ callsPerSecond: 15, maxQueueWaitMs: 60_000 });
    // A quiet tenant's pair of sends: both start at once, neither queues.
    const pair = [run('quiet'), run('quiet')];
    await clock.run(0);
    expect(started.map((s) => s.at)).toEqual([0, 0]);
    await Promise.all(pair);
    // Later, once the budget has been idle again, 8 calls at once: 3 go (the burst), 5 queue and
    // go one per spacing (1001 / 15 = 66.7 ms).
    clock.advance(10_000);
    started.length = 0;
    const burst = Array.from({ length: 8 }, () => run('busy'));
    await clock.run(0);
    expect(started.map((s) => s.at)).toEqual([10_000, 10_000, 10_000]);
    expect(budget.queueLength()).toBe(5);
    await clock.run(400);
    expect(started.map((s) => s.at - 10_000)).toEqual([0, 0, 0, 67, 134, 201, 267, 334]);
    await Promise.all(burst);
  });

  it('after a full window, the log releases one grant at a time: no burst in the next window', async () => {
    const { clock, started, run } = setup({ callsPerSecond: 15, maxQueueWaitMs: 60_000, burst: 15 });
    // burst 15: the whole window goes at once from idle; the next 15 must not go together again.
    const calls = Array.from({ length: 30 }, () => run());
    await clock.run(2500);
    const times = started.map((s) => s.at);
    expect(times.slice(0, 15)).toEqual(Array(15).fill(0));
    expect(times[15]).toBe(1001);
    const gaps = times.slice(16).map((at, i) => at - times[15 + i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(66);
    await Promise.all(calls);
  });

  it('shares slots fairly: a flood from one tenant does not starve another', async () => {
    const { clock, started, run } = setup({
      callsPerSecond: 10,
      maxQueueWaitMs: 60_000,
      maxQueueLength: 1000,
    });
    const pending = [
      ...Array.from({ length: 200 }, () => run('noisy')),
      ...Array.from({ length: 10 }, () => run('quiet')),
    ];
    await clock.run(3003);
    const quiet = started.filter((s) => s.tenant === 'quiet');
    // The burst's three slots at 0 go to the first to come (noisy), then the quiet tenant gets
    // every other slot: its 10 calls are done within the first 23 slots, ~100 ms apart.
    expect(quiet).toHaveLength(10);
    expect(Math.max(...quiet.map((s) => s.at))).toBeLessThanOrEqual(2203);
    void Promise.allSettled(pending);
  });

  it('gives a weight-2 tenant twice the share of a weight-1 tenant', async () => {
    const { clock, started, run } = setup({
      callsPerSecond: 15,
      maxQueueWaitMs: 60_000,
      maxQueueLength: 1000,
      weights: { gold: 2 },
    });
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < 200; i++) pending.push(run('gold'), run('basic'));
    await clock.run(10_010);
    const counts = {
      gold: started.filter((s) => s.tenant === 'gold').length,
      basic: started.filter((s) => s.tenant === 'basic').length,
    };
    // The whole budget is used: 15 per 1001 ms for 10 s.
    expect(counts.gold + counts.basic).toBeGreaterThanOrEqual(150);
    expect(counts.gold / counts.basic).toBeGreaterThan(1.8);
    expect(counts.gold / counts.basic).toBeLessThan(2.2);
    void Promise.allSettled(pending);
  });

  it('refuses a call that waits past its deadline with 429 OVER_LIMIT and Retry-After, never hanging', async () => {
    const { clock, run } = setup({ callsPerSecond: 1, maxQueueWaitMs: 500 });
    await run();
    const waiting = run();
    await settle();
    clock.advance(501);
    const error = await waiting.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'OVER_LIMIT', headers: { 'Retry-After': '1' } });
  });

  it('answers 503 when the queue is full: the message is not sent', async () => {
    const { run } = setup({ callsPerSecond: 1, maxQueueWaitMs: 5000, maxQueueLength: 1 });
    await run();
    void run().catch(() => undefined);
    await settle();
    await expect(run()).rejects.toMatchObject({
      code: 'UPSTREAM_UNAVAILABLE',
      description: expect.stringMatching(/queue is full; not sent/),
    });
  });

  it('after a provider 429 pauses for its Retry-After, then retries the call with a fresh slot', async () => {
    const { clock, budget } = setup({ callsPerSecond: 15, maxQueueWaitMs: 5000 });
    const attempts: number[] = [];
    const result = budget.run('t', async () => {
      attempts.push(clock.now());
      if (attempts.length === 1)
        throw new UpstreamError(
          'throttled',
          'provider throttled',
          { httpStatus: 429, status: 'OVER_LIMIT' },
          { 'Retry-After': '2' },
        );
      return 'sent';
    });
    await settle();
    const other = budget.run('u', async () => attempts.push(clock.now()));
    await clock.run(1999);
    expect(attempts).toEqual([0]);
    await clock.run(100);
    await expect(result).resolves.toBe('sent');
    await other;
    // The retry first (at the head of the queue), then the other call one paced slot later.
    expect(attempts).toEqual([0, 2000, 2067]);
  });

  it('gives up after three provider 429s and passes the last one on', async () => {
    const { clock, budget } = setup({ callsPerSecond: 15, maxQueueWaitMs: 5000 });
    let attempts = 0;
    const result = budget
      .run('t', async () => {
        attempts += 1;
        throw new UpstreamError(
          'throttled',
          'provider throttled',
          { httpStatus: 429, status: 'OVER_LIMIT' },
          { 'Retry-After': '1' },
        );
      })
      .catch((e: unknown) => e);
    await clock.run(5000);
    expect(await result).toMatchObject({ kind: 'throttled' });
    expect(attempts).toBe(4);
  });

  it('refuses everything still queued when it stops', async () => {
    const { budget, run } = setup({ callsPerSecond: 1 });
    await run();
    const waiting = run();
    await settle();
    budget.stop();
    await expect(waiting).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    await expect(run()).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
  });
});

describe('the upstream budget as a strict provider counts arrivals', () => {
  /**
   * Three tenants flood the budget for `seconds` of manual time; returns when each call was let go.
   * `lulls`: the flood comes in waves (a wave every 5 s: 1 s of 30 calls a second, twice the cap,
   * then none), so the budget keeps going from idle (its burst) to full and back.
   */
  async function flood(
    windowMs: number,
    seconds: number,
    { burst, lulls = false }: { burst?: number; lulls?: boolean } = {},
  ): Promise<number[]> {
    const clock = new SteppingClock(0);
    const budget = createUpstreamBudget({
      slots: createLocalSlotSource(15, windowMs, clock, burst === undefined ? {} : { burst }),
      callsPerSecond: 15,
      weightOf: () => 1,
      maxQueueWaitMs: 3_600_000,
      maxQueueLength: 100_000,
      clock,
    });
    const granted: number[] = [];
    const call = (tenant: string) => budget.run(tenant, async () => granted.push(clock.now()));
    const pending: Promise<unknown>[] = [];
    if (!lulls) {
      for (const tenant of ['a', 'b', 'c'])
        pending.push(...Array.from({ length: 10 * seconds }, () => call(tenant)));
      await clock.run(seconds * 1000);
    } else {
      for (let at = 0; at < seconds * 1000; at += 100) {
        if (at % 5000 < 1000) for (const tenant of ['a', 'b', 'c']) pending.push(call(tenant));
        await clock.run(100);
      }
    }
    budget.stop();
    await Promise.allSettled(pending);
    return granted;
  }

  /** Most calls a provider counting arrivals in any second (both ends included) would see. */
  function mostInAnySecond(arrivals: number[]): number {
    const sorted = [...arrivals].sort((a, b) => a - b);
    let most = 0;
    for (let i = 0, j = 0; j < sorted.length; j++) {
      while (sorted[j]! - sorted[i]! > 1000) i++;
      most = Math.max(most, j - i + 1);
    }
    return most;
  }

  /** Calls per second, as a share of 15, from the first grant to the last. */
  const utilisation = (granted: number[]) =>
    (granted.length - 1) / ((granted[granted.length - 1]! - granted[0]!) / 1000) / 15;

  // Ways each call may reach the provider late after its slot (below `jitter` ms): worst case,
  // the calls of every other window as late as they can be and the next window's on time; a
  // seeded pseudo-random spread; and a saw-tooth.
  function delays(count: number, jitter: number): Record<string, number[]> {
    let seed = 0x2545f491;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const below = jitter - 0.001;
    return {
      'worst case': Array.from({ length: count }, (_, i) => (Math.floor(i / 15) % 2 === 0 ? below : 0)),
      random: Array.from({ length: count }, () => random() * below),
      'saw-tooth': Array.from({ length: count }, (_, i) => below * (1 - (i % 15) / 15)),
    };
  }

  it.each([
    // windowMarginMs, jitter it must absorb, least utilisation (at most 1000 / (1001 + margin)), burst
    [50, 50, 0.95, 1],
    [50, 50, 0.95, 3],
    [50, 50, 0.95, 10],
    [50, 50, 0.95, 15],
    [60, 60, 0.94, 3],
  ])(
    'with a %i ms margin, calls reaching the provider less than %i ms late never make 16 in a second, at utilisation >= %d (burst %i)',
    async (margin, jitter, least, burst) => {
      for (const lulls of [false, true]) {
        const granted = await flood(1000 + margin, 20, { burst, lulls });
        for (const [name, late] of Object.entries(delays(granted.length, jitter))) {
          const arrivals = granted.map((at, i) => at + late[i]!);
          expect([name, lulls, mostInAnySecond(arrivals)]).toEqual([name, lulls, 15]);
        }
        if (!lulls) expect(utilisation(granted)).toBeGreaterThanOrEqual(least);
      }
    },
  );

  it.each([1, 3])(
    'paces grants (burst %i): never more than the burst within one spacing; in the steady state, the even spacing',
    async (burst) => {
      const granted = await flood(1050, 5, { burst });
      const spacing = paceSpacing(15, 1050);
      expect(granted.slice(0, burst)).toEqual(Array(burst).fill(0));
      // On the clock's whole ms a grant may be up to 1 ms late (rounding) or early (Pacer.waitMs).
      for (let i = burst; i < granted.length; i++)
        expect(granted[i]! - granted[i - burst]!).toBeGreaterThanOrEqual(spacing - 2);
      // From the second window on, one grant per spacing: the burst is not repeated.
      const gaps = granted.slice(16).map((at, i) => at - granted[15 + i]!);
      expect(gaps.every((gap) => gap >= spacing - 2 && gap <= spacing + 2)).toBe(true);
    },
  );

  it('waves of calls with lulls between them: every wave starts with the burst, none repeats it', async () => {
    const granted = await flood(1050, 20, { burst: 3, lulls: true });
    const spacing = paceSpacing(15, 1050);
    // Grants closer than half a spacing come only in the first ms of a wave (t = 0, 5000, 10000, 15000).
    const close = granted.slice(1).filter((at, i) => at - granted[i]! < spacing / 2);
    expect(new Set(close.map((at) => at % 5000))).toEqual(new Set([0]));
    expect(close).toHaveLength(4 * 2);
  });

  it('is honest about the limit: jitter beyond the margin can make 16, paced or not', async () => {
    // No schedule can absorb more: 15 calls spread over windowMs, the first one late by more than
    // windowMs - 1000, land inside one provider second with the next window's first call.
    const granted = await flood(1050, 5);
    const late = delays(granted.length, 60)['worst case']!;
    expect(mostInAnySecond(granted.map((at, i) => at + late[i]!))).toBe(16);
  });
});
