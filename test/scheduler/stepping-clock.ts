import { ManualClock } from '../support/manual-clock';

/** Lets promise callbacks (the budget's async drain loop) run without moving the clock. */
export const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** A manual clock that knows when its next timer is due, so a test can jump from one to the next. */
export class SteppingClock extends ManualClock {
  private readonly due = new Set<{ at: number }>();

  override schedule(fn: () => void, ms: number): () => void {
    const entry = { at: this.now() + Math.max(0, ms) };
    this.due.add(entry);
    const cancel = super.schedule(() => {
      this.due.delete(entry);
      fn();
    }, ms);
    return () => {
      this.due.delete(entry);
      cancel();
    };
  }

  nextDue(): number | undefined {
    let next: number | undefined;
    for (const { at } of this.due) next = next === undefined ? at : Math.min(next, at);
    return next;
  }

  /** Moves time forward by `ms`, stopping at every timer and letting what it started settle. */
  async run(ms: number): Promise<void> {
    const end = this.now() + ms;
    for (;;) {
      await settle();
      const next = this.nextDue();
      if (next === undefined || next > end) break;
      this.advance(Math.max(0, next - this.now()));
    }
    this.advance(end - this.now());
    await settle();
  }
}
