import { nextCpuTurn } from '../../src/scheduler';

// src/scheduler/cpu-turns.ts: the slices of many requests take turns, one per event-loop turn.
describe('CPU turns', () => {
  it('resumes one waiting slice per turn of the event loop, round robin in the order they asked', async () => {
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
        await nextCpuTurn();
        resumed.push({ name, turn });
      }
    };
    await Promise.all(['a', 'b', 'c'].map(request));
    ticking = false;
    expect(resumed.map((r) => r.name).join('')).toBe('abcabcabc');
    // Never two in one turn: every slice sees a later turn than the one before it.
    const turns = resumed.map((r) => r.turn);
    expect(turns.every((t, i) => i === 0 || t > turns[i - 1]!)).toBe(true);
  });
});
