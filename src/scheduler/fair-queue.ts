/**
 * Per-tenant FIFO queues served by weight (start-time fair queueing). Each tenant's `served`
 * counter grows by 1/weight per item taken; the next item comes from the waiting tenant with the
 * least service so far. It is work-conserving (an idle tenant's share goes to the busy ones) and a
 * tenant that was idle cannot bank credit: it rejoins at the level of the tenants already waiting.
 */
export class FairQueue<T> {
  private readonly queues = new Map<string, T[]>();
  private readonly served = new Map<string, number>();
  private count = 0;

  constructor(private readonly weightOf: (tenantId: string) => number) {}

  get size(): number {
    return this.count;
  }

  push(tenantId: string, item: T): void {
    this.queueOf(tenantId).push(item);
    this.count += 1;
  }

  /** Puts an item back at the head of its tenant's queue (a retry keeps its place). */
  unshift(tenantId: string, item: T): void {
    this.queueOf(tenantId).unshift(item);
    this.count += 1;
  }

  shift(): { tenantId: string; item: T } | undefined {
    let chosen: string | undefined;
    let least = Infinity;
    for (const [tenantId, queue] of this.queues) {
      const served = this.served.get(tenantId) ?? 0;
      if (queue.length > 0 && served < least) {
        chosen = tenantId;
        least = served;
      }
    }
    if (chosen === undefined) return undefined;
    const queue = this.queues.get(chosen) as T[];
    const item = queue.shift() as T;
    this.count -= 1;
    this.served.set(chosen, least + 1 / Math.max(this.weightOf(chosen), Number.MIN_VALUE));
    if (queue.length === 0) this.queues.delete(chosen);
    return { tenantId: chosen, item };
  }

  /** Removes and returns every item matching `predicate`, in queue order. */
  removeWhere(predicate: (item: T) => boolean): T[] {
    const removed: T[] = [];
    for (const [tenantId, queue] of this.queues) {
      const kept = queue.filter((item) => !(predicate(item) && removed.push(item)));
      if (kept.length === 0) this.queues.delete(tenantId);
      else this.queues.set(tenantId, kept);
    }
    this.count -= removed.length;
    return removed;
  }

  items(): T[] {
    return [...this.queues.values()].flat();
  }

  private queueOf(tenantId: string): T[] {
    let queue = this.queues.get(tenantId);
    if (!queue) {
      // Rejoining after idling: start level with the least-served tenant still waiting.
      const waiting = [...this.queues.keys()].map((id) => this.served.get(id) ?? 0);
      const floor = waiting.length > 0 ? Math.min(...waiting) : Math.max(0, ...this.served.values());
      this.served.set(tenantId, Math.max(this.served.get(tenantId) ?? 0, floor));
      queue = [];
      this.queues.set(tenantId, queue);
    }
    return queue;
  }
}
