import { FairQueue } from '../../src/scheduler';

function shares(queue: FairQueue<number>, take: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < take; i++) {
    const next = queue.shift();
    if (next) counts[next.tenantId] = (counts[next.tenantId] ?? 0) + 1;
  }
  return counts;
}

describe('FairQueue', () => {
  it('serves equal-weight tenants equally however unequal their backlogs', () => {
    const queue = new FairQueue<number>(() => 1);
    for (let i = 0; i < 1000; i++) queue.push('noisy', i);
    for (let i = 0; i < 100; i++) queue.push('b', i);
    for (let i = 0; i < 100; i++) queue.push('c', i);
    expect(shares(queue, 150)).toEqual({ noisy: 50, b: 50, c: 50 });
  });

  it('serves a weight-2 tenant twice as often as a weight-1 tenant', () => {
    const queue = new FairQueue<number>((t) => (t === 'gold' ? 2 : 1));
    for (let i = 0; i < 300; i++) {
      queue.push('gold', i);
      queue.push('basic', i);
    }
    expect(shares(queue, 300)).toEqual({ gold: 200, basic: 100 });
  });

  it('is work-conserving: a lone tenant gets every slot', () => {
    const queue = new FairQueue<number>(() => 1);
    for (let i = 0; i < 10; i++) queue.push('only', i);
    expect(shares(queue, 10)).toEqual({ only: 10 });
    expect(queue.size).toBe(0);
  });

  it('keeps each tenant first-in first-out, and a retry goes back to the head', () => {
    const queue = new FairQueue<string>(() => 1);
    queue.push('a', 'a1');
    queue.push('a', 'a2');
    queue.unshift('a', 'a0');
    expect([queue.shift()?.item, queue.shift()?.item, queue.shift()?.item]).toEqual(['a0', 'a1', 'a2']);
  });

  it('gives a tenant that idled no banked credit: it rejoins level with those waiting', () => {
    const queue = new FairQueue<number>(() => 1);
    for (let i = 0; i < 100; i++) queue.push('busy', i);
    shares(queue, 50); // busy alone for a while
    for (let i = 0; i < 100; i++) queue.push('late', i);
    // Without the floor, 'late' would take the next 50 slots in a row.
    expect(shares(queue, 20)).toEqual({ busy: 10, late: 10 });
  });

  it('removes expired items wherever they are', () => {
    const queue = new FairQueue<number>(() => 1);
    [1, 2, 3].forEach((n) => queue.push('a', n));
    [4, 5].forEach((n) => queue.push('b', n));
    expect(queue.removeWhere((n) => n % 2 === 1)).toEqual([1, 3, 5]);
    expect(queue.size).toBe(2);
    expect(queue.items()).toEqual([2, 4]);
  });
});
