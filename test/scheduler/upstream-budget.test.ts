import { ApiError } from '../../src/http';
import { SlidingLog, createUpstreamBudget } from '../../src/scheduler';
import { ManualClock } from '../support/manual-clock';

describe('SlidingLog', () => {
  it('admits at most `limit` calls in any rolling window, including across a window edge', () => {
    const log = new SlidingLog(15, 1000);
    const admitted: number[] = [];
    // Offer a call every 10 ms for 5 s; record the times admitted.
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

describe('the upstream budget', () => {
  function setup(callsPerSecond = 2, maxQueueWaitMs = 3000, maxQueueLength = 100) {
    const clock = new ManualClock(0);
    const budget = createUpstreamBudget({
      callsPerSecond,
      windowMarginMs: 0,
      maxQueueWaitMs,
      maxQueueLength,
      clock,
    });
    const started: number[] = [];
    const run = () => budget.run('t', async () => started.push(clock.now()));
    return { clock, budget, started, run };
  }
  const flush = () => new Promise((resolve) => setImmediate(resolve));

  it('queues calls beyond the cap and starts them as slots free up, in order', async () => {
    const { clock, started, run } = setup();
    const calls = [run(), run(), run(), run()];
    await flush();
    expect(started).toEqual([0, 0]);
    clock.advance(1001);
    await flush();
    expect(started).toEqual([0, 0, 1001, 1001]);
    await Promise.all(calls);
  });

  it('refuses a call that waits past its deadline with 429 OVER_LIMIT and Retry-After, never hanging', async () => {
    const { clock, run } = setup(1, 500);
    await run();
    const waiting = run();
    clock.advance(501);
    const error = await waiting.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'OVER_LIMIT', headers: { 'Retry-After': '1' } });
  });

  it('answers 503 when the queue is full: the message is not sent', async () => {
    const { run } = setup(1, 5000, 1);
    await run();
    void run().catch(() => undefined);
    await expect(run()).rejects.toMatchObject({
      code: 'UPSTREAM_UNAVAILABLE',
      description: expect.stringMatching(/queue is full; not sent/),
    });
  });

  it('refuses everything still queued when it stops', async () => {
    const { budget, run } = setup(1);
    await run();
    const waiting = run();
    budget.stop();
    await expect(waiting).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    await expect(run()).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
  });
});
