import { createCpuTurns, requestTurn, type TurnKey } from '../../src/scheduler';
import { countTurns } from '../support/wait';

// src/scheduler/cpu-turns.ts: the slices of many requests take turns, each turn of the event loop
// resuming them until its time budget is spent: lanes (tenants) round robin, the oldest request of
// a lane first, keyless slices first come first served. The clock here is the test's: each slice
// "takes" the milliseconds it adds to it.
describe('CPU turns', () => {
  /** Two turns of the event loop in which nothing asks for a slice. */
  const idleTurns = async () => {
    await new Promise<void>((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve) => setImmediate(resolve));
  };

  async function slicesByTurn(budgetMs: number, sliceMs: number) {
    let ms = 0;
    const turns = createCpuTurns({ budgetMs, now: () => ms });
    const counter = countTurns();
    const resumed: { name: string; turn: number }[] = [];
    const request = async (name: string): Promise<void> => {
      for (let slice = 0; slice < 3; slice++) {
        await turns.next();
        resumed.push({ name, turn: counter.turns });
        ms += sliceMs;
      }
    };
    await Promise.all(['a', 'b', 'c'].map(request));
    counter.stop();
    const byTurn = new Map<number, string>();
    for (const { name, turn: t } of resumed) byTurn.set(t, (byTurn.get(t) ?? '') + name);
    return { order: resumed.map((r) => r.name).join(''), byTurn: [...byTurn.values()] };
  }

  it('resumes waiting slices round robin, one per turn when each spends the budget', async () => {
    const { order, byTurn } = await slicesByTurn(5, 5);
    expect(order).toBe('abcabcabc');
    expect(byTurn).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('resumes as many in one turn as its budget allows, the rest in the next', async () => {
    const { order, byTurn } = await slicesByTurn(5, 2);
    expect(order).toBe('abcabcabc');
    // 'a' asked first with none waiting: at once. Then 0, 2, 4 ms spent before each of a turn's
    // first three slices: the third still starts.
    expect(byTurn).toEqual(['a', 'bca', 'bca', 'bc']);
  });

  /** Requests of 3 slices of 5 ms each (the whole budget), keyed as given; the order they ran in. */
  async function keyedSlices(requests: { name: string; key: TurnKey }[]): Promise<string> {
    let ms = 0;
    const turns = createCpuTurns({ budgetMs: 5, now: () => ms });
    let order = '';
    await Promise.all(
      requests.map(async ({ name, key }) => {
        for (let slice = 0; slice < 3; slice++) {
          await turns.next(key);
          order += name;
          ms += 5;
        }
      }),
    );
    return order;
  }

  it('resumes the oldest request of a lane first: a burst’s first send is done after its own slices', async () => {
    const order = await keyedSlices([
      { name: 'a', key: { lane: 'demo', order: 1 } },
      { name: 'b', key: { lane: 'demo', order: 2 } },
      { name: 'c', key: { lane: 'demo', order: 3 } },
    ]);
    expect(order).toBe('aaabbbccc');
  });

  it('serves lanes round robin: another tenant’s send is not held behind a burst', async () => {
    const order = await keyedSlices([
      { name: 'a', key: { lane: 'busy', order: 1 } },
      { name: 'b', key: { lane: 'busy', order: 2 } },
      { name: 'q', key: { lane: 'quiet', order: 3 } },
    ]);
    // 'a' goes at once (none waiting); from then on, busy and quiet alternate.
    expect(order).toBe('aaqaqbqbb');
  });

  it('numbers requests in the order they come, whatever their lane', () => {
    const first = requestTurn('x');
    const second = requestTurn('y');
    expect(second.order).toBeGreaterThan(first.order);
    expect([first.lane, second.lane]).toEqual(['x', 'y']);
  });

  it('goes idle when nothing waits, and resumes a slice that asks later', async () => {
    const turns = createCpuTurns({ budgetMs: 5, now: () => 0 });
    // Two in one turn: the second waits, so the clock (standing still) stays contended.
    await Promise.all([turns.next(), turns.next()]);
    // The queue is empty and no turn is scheduled; a new caller must still be resumed, by a turn.
    await idleTurns();
    const counter = countTurns();
    let resumed = false;
    await turns.next().then(() => (resumed = true));
    counter.stop();
    expect(resumed).toBe(true);
    expect(counter.turns).toBe(1);
  });

  it('stops starting slices in a turn once the budget is spent, even by steps of slices it started', async () => {
    // Each slice takes 4 promise steps of 1 ms; the budget is 2 ms. 'a' goes at once (the first to
    // ask, none waiting). The first turn starts 'b', then 'c' (1 ms spent after b's first step),
    // and no more: d waits for the next turn.
    let ms = 0;
    const turns = createCpuTurns({ budgetMs: 2, now: () => ms });
    const started: string[] = [];
    const counter = countTurns();
    const slice = async (name: string): Promise<void> => {
      await turns.next();
      started.push(`${name}@${counter.turns}`);
      for (let step = 0; step < 4; step++) {
        ms += 1;
        await Promise.resolve();
      }
    };
    await Promise.all(['a', 'b', 'c', 'd'].map(slice));
    counter.stop();
    expect(started).toEqual(['a@0', 'b@1', 'c@1', 'd@2']);
  });

  it('lets the first slice of a turn go at once when none has waited for 20 ms; the next of that turn waits', async () => {
    let ms = 0;
    const turns = createCpuTurns({ budgetMs: 5, now: () => ms });
    const counter = countTurns();
    const at: string[] = [];
    const alone = async (name: string) => {
      const before = counter.turns;
      await turns.next();
      at.push(`${name}@+${counter.turns - before}`);
    };
    // Two requests whose bodies came in the same turn: the first at once, the second waits.
    await Promise.all([
      turns.next().then(() => at.push(`first@${counter.turns}`)),
      turns.next().then(() => at.push(`second@${counter.turns}`)),
    ]);
    await idleTurns();
    // 19 ms after a slice waited: still contended, so it takes its turn.
    ms = 19;
    await alone('contended');
    await idleTurns();
    // 20 ms after the last wait (at 19): at once.
    ms = 39;
    await alone('quiet');
    counter.stop();
    expect(at).toEqual(['first@0', 'second@1', 'contended@+1', 'quiet@+0']);
  });

  it('counts a slice resumed from the queue as contention, however long it waited', async () => {
    let ms = 0;
    const turns = createCpuTurns({ budgetMs: 5, now: () => ms });
    const counter = countTurns();
    const first = turns.next();
    // Asked at 0, resumed at 15 (a long turn before its check phase).
    const second = turns.next();
    ms = 15;
    await Promise.all([first, second]);
    await idleTurns();
    // 30 ms after the last ask, 15 after the last resume: still contended.
    ms = 30;
    const before = counter.turns;
    await turns.next();
    counter.stop();
    expect(counter.turns - before).toBe(1);
  });

  it('gives way only to waiting slices: at once when none waits, even after a slice went at once in this turn', async () => {
    const turns = createCpuTurns({ budgetMs: 5, now: () => 0 });
    const counter = countTurns();
    const at: string[] = [];
    // A request's turn at the edge (at once: none waited), then its send gives way in the same turn.
    await turns.next();
    await turns.giveWay();
    at.push(`own@${counter.turns}`);
    await idleTurns();
    // Another request's slice waits behind one that went at once: giving way now waits behind it.
    const before = counter.turns;
    const first = turns.next().then(() => at.push(`first@+${counter.turns - before}`));
    const second = turns.next().then(() => at.push(`second@+${counter.turns - before}`));
    const yielding = turns.giveWay().then(() => at.push(`gave way@+${counter.turns - before}`));
    await Promise.all([first, second, yielding]);
    counter.stop();
    expect(at).toEqual(['own@0', 'first@+0', 'second@+1', 'gave way@+1']);
  });
});
