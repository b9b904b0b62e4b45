import { createLocalSlotSource, createUpstreamBudget } from '../../src/scheduler';
import { UpstreamError, type WriteGate } from '../../src/upstream';
import { SteppingClock } from './stepping-clock';

// The provider counts arrivals. A slot is taken when the budget grants it, but the request reaches
// the socket later: after the event loop gets to it, after a durable send's ledger write. Here each
// call "writes" after a stall drawn from a fixed sequence (0 to 400 ms, as seen on a loaded host),
// on a driven clock; the upstream stand-in asks the write gate exactly as the real client does.

const CAP = 15;
const MARGIN = 50;

/** Deterministic stalls: mostly none, some short, some far longer than the margin. */
function stalls(): () => number {
  const pattern = [0, 0, 5, 0, 320, 0, 30, 0, 140, 0, 0, 400, 10, 0, 60, 0, 250, 0, 0, 45];
  let i = 0;
  return () => pattern[i++ % pattern.length]!;
}

function mostInAnySecond(arrivals: number[]): number {
  let most = 0;
  for (const start of arrivals) {
    most = Math.max(most, arrivals.filter((t) => t >= start && t < start + 1000).length);
  }
  return most;
}

async function flood(writeWithinMs: number | undefined) {
  const clock = new SteppingClock(0);
  const budget = createUpstreamBudget({
    slots: createLocalSlotSource(CAP, 1000 + MARGIN, clock),
    callsPerSecond: CAP,
    weightOf: () => 1,
    maxQueueWaitMs: 120_000,
    maxQueueLength: 10_000,
    clock,
    ...(writeWithinMs === undefined ? {} : { writeWithinMs }),
  });
  const stall = stalls();
  const arrivals: number[] = [];
  let refusedWrites = 0;
  const write = (gate: WriteGate) =>
    new Promise<void>((resolve, reject) => {
      clock.schedule(() => {
        if (!gate()) {
          refusedWrites += 1;
          reject(new UpstreamError('stale', 'slot too old; not sent'));
          return;
        }
        arrivals.push(clock.now());
        resolve();
      }, stall());
    });
  const calls = Array.from({ length: 150 }, (_, i) => budget.run(`t${i % 3}`, write));
  const settled = Promise.allSettled(calls);
  await clock.run(30_000);
  const outcomes = await settled;
  budget.stop();
  return { arrivals, refusedWrites, outcomes };
}

describe('a slot is confirmed when its request is written', () => {
  it('never lets more than 15 requests arrive in any second, whatever the stalls between grant and write', async () => {
    const { arrivals, refusedWrites, outcomes } = await flood(MARGIN);
    expect(mostInAnySecond(arrivals)).toBeLessThanOrEqual(CAP);
    // Stale slots went back in the queue: every call was still made, once.
    expect(refusedWrites).toBeGreaterThan(0);
    expect(outcomes.every((o) => o.status === 'fulfilled')).toBe(true);
    expect(arrivals).toHaveLength(150);
  });

  it('without the check, the same stalls put more than 15 arrivals in one second (what the check prevents)', async () => {
    const { arrivals } = await flood(undefined);
    expect(arrivals).toHaveLength(150);
    expect(mostInAnySecond(arrivals)).toBeGreaterThan(CAP);
  });

  it('a request whose slot keeps going stale past its deadline is refused OVER_LIMIT, not sent', async () => {
    const clock = new SteppingClock(0);
    const budget = createUpstreamBudget({
      slots: createLocalSlotSource(CAP, 1000 + MARGIN, clock),
      callsPerSecond: CAP,
      weightOf: () => 1,
      maxQueueWaitMs: 2_000,
      maxQueueLength: 100,
      clock,
      writeWithinMs: MARGIN,
    });
    let written = 0;
    const call = budget.run(
      't',
      (gate) =>
        new Promise<void>((resolve, reject) => {
          clock.schedule(() => {
            if (gate()) {
              written += 1;
              resolve();
            } else reject(new UpstreamError('stale', 'slot too old; not sent'));
          }, 500);
        }),
    );
    const outcome = call.catch((error: unknown) => error);
    await clock.run(10_000);
    expect(await outcome).toMatchObject({ code: 'OVER_LIMIT' });
    expect(written).toBe(0);
    budget.stop();
  });
});
