import { ApiError } from '../../src/http';
import { SlidingLog, createLocalSlotSource, createUpstreamBudget } from '../../src/scheduler';
import { UpstreamError } from '../../src/upstream';
import { ManualClock } from '../support/manual-clock';

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

/** Lets promise callbacks (the budget's async drain loop) run without moving the clock. */
const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('the upstream budget', () => {
  function setup({
    callsPerSecond = 2,
    maxQueueWaitMs = 3000,
    maxQueueLength = 100,
    weights = {},
  }: {
    callsPerSecond?: number;
    maxQueueWaitMs?: number;
    maxQueueLength?: number;
    weights?: Record<string, number>;
  } = {}) {
    const clock = new ManualClock(0);
    const budget = createUpstreamBudget({
      slots: createLocalSlotSource(callsPerSecond, 1000, clock),
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

  it('queues calls beyond the cap and starts them as slots free up', async () => {
    const { clock, started, run } = setup();
    const calls = [run(), run(), run(), run()];
    await settle();
    expect(started.map((s) => s.at)).toEqual([0, 0]);
    clock.advance(1001);
    await settle();
    expect(started.map((s) => s.at)).toEqual([0, 0, 1001, 1001]);
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
    for (let i = 0; i < 3; i++) {
      await settle();
      clock.advance(1001);
    }
    await settle();
    const quiet = started.filter((s) => s.tenant === 'quiet');
    // 10 slots at 0 (first come), then the quiet tenant gets half of every later second.
    expect(quiet).toHaveLength(10);
    expect(Math.max(...quiet.map((s) => s.at))).toBeLessThanOrEqual(2002);
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
    for (let s = 0; s < 10; s++) {
      await settle();
      clock.advance(1001);
    }
    await settle();
    const counts = {
      gold: started.filter((s) => s.tenant === 'gold').length,
      basic: started.filter((s) => s.tenant === 'basic').length,
    };
    expect(counts.gold + counts.basic).toBe(15 * 11);
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
    clock.advance(1999);
    await settle();
    expect(attempts).toEqual([0]);
    clock.advance(1);
    await settle();
    await expect(result).resolves.toBe('sent');
    await other;
    expect(attempts).toEqual([0, 2000, 2000]);
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
    for (let i = 0; i < 5; i++) {
      await settle();
      clock.advance(1000);
    }
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
