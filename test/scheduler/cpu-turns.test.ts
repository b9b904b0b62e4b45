import { createCpuTurns } from '../../src/scheduler';

// src/scheduler/cpu-turns.ts: the slices of many requests take turns, each turn of the event loop
// resuming them first come first served until its time budget is spent. The clock here is the
// test's: each slice "takes" the milliseconds it adds to it.
describe('CPU turns', () => {
  async function slicesByTurn(budgetMs: number, sliceMs: number) {
    let ms = 0;
    const turns = createCpuTurns({ budgetMs, now: () => ms });
    let turn = 0;
    let ticking = true;
    const tick = (): void => {
      if (!ticking) return;
      turn++;
      setImmediate(tick);
    };
    setImmediate(tick);
    const resumed: { name: string; turn: number }[] = [];
    const request = async (name: string): Promise<void> => {
      for (let slice = 0; slice < 3; slice++) {
        await turns.next();
        resumed.push({ name, turn });
        ms += sliceMs;
      }
    };
    await Promise.all(['a', 'b', 'c'].map(request));
    ticking = false;
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
    // 0, 2, 4 ms spent before each of a turn's first three slices: the third still starts.
    expect(byTurn).toEqual(['abc', 'abc', 'abc']);
  });

  it('never resumes a slice in the turn that queued it while the budget is spent', async () => {
    const { byTurn } = await slicesByTurn(1, 1);
    expect(byTurn.every((names) => names.length === 1)).toBe(true);
  });
});
