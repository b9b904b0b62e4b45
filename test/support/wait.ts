/** Polls until `probe` returns a value (not undefined/false), or fails after `timeoutMs` of real time. */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > until) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The event loop's turns since it was made (one immediate per turn), counted until `stop()`. */
export interface TurnCounter {
  readonly turns: number;
  stop(): void;
}

/** Starts counting the event loop's turns: the first counted is the next check phase. */
export function countTurns(): TurnCounter {
  let turns = 0;
  let counting = true;
  const tick = (): void => {
    if (!counting) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  return {
    get turns() {
      return turns;
    },
    stop() {
      counting = false;
    },
  };
}
