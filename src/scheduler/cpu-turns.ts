import { setImmediate } from 'node:timers';
import { performance } from 'node:perf_hooks';

// Long CPU work of one request (a 1,000-number send's parsing) is done in slices with a turn of
// the event loop between them, and a send's start and its answer are slices too, as is every HTTP
// request's way through the routes once its body is read (src/http/app.ts). But the slices
// of many requests that wait for the same turn would all run in it: 40 thousand-number sends each
// slicing put ~80 ms in one turn, and a provider answer that resumes a hundred coalesced sends
// ~50 ms. Timers, provider writes and other sockets waited that long. Here those slices take
// turns instead: each turn of the event loop resumes waiting slices, first come first served,
// while less than `budgetMs` has passed since it resumed its first; the rest wait for the next
// turn.
//
// What the budget bounds is how many slices a turn starts, not exactly how long it lasts: a
// resumed slice goes on through its promise steps in the same turn until it waits for I/O, a
// timer or its own next turn, and the check for the next slice comes after the first of those
// steps. Measured through the provider cap (docs/benchmarks.md), the longest turn went from
// 136-191 ms to 33-64 ms.
//
// When slices have not had to wait for a while (CONTENDED_FOR_MS), the first slice to ask in a
// turn of the event loop goes at once: taking turns is for slices that would otherwise share one,
// and a wait for the check phase is a whole poll phase when other sockets are busy (a tenant
// flooding its rate limit, answered in the raw listener, put ~5 ms in each, and a quiet tenant's
// send waited for two). Under a load of sends, where slices wait every turn, all of them take turns.
// Hand-rolled (a queue of resolvers): no library schedules promise continuations against a
// per-turn time budget.

export interface CpuTurns {
  /**
   * Resolves after every slice queued before it: in a later check phase, in its budget; at once
   * for the first slice of a turn when none has waited for CONTENDED_FOR_MS.
   */
  next(): Promise<void>;
  /**
   * Gives way to the slices waiting for a turn: waits behind them when any wait (as `next`),
   * resolves at once when none does. For a slice that goes on from one that already had its turn
   * (a send's start, after its request's turn at the HTTP edge): with none waiting, waiting would
   * only count the request's own two turns as contention.
   */
  giveWay(): Promise<void>;
}

export interface CpuTurnOptions {
  /** Time the slices of one turn may take before the rest wait for the next turn. */
  budgetMs: number;
  /** A monotonic clock in ms (performance.now). */
  now: () => number;
}

/** 5 ms: well under the 50 ms of event-loop delay a gateway may add, a few slices of parsing. */
export const CPU_TURN_BUDGET_MS = 5;

/** How long after a slice last had to wait no slice goes at once (a few turns of a busy loop). */
export const CONTENDED_FOR_MS = 20;

export function createCpuTurns(options: CpuTurnOptions): CpuTurns {
  const waiting: (() => void)[] = [];
  let scheduled = false;
  // A slice went at once in this turn of the event loop (cleared in its check phase).
  let wentAtOnce = false;
  let lastWaitAt = Number.NEGATIVE_INFINITY;
  const clearWentAtOnce = (): void => {
    wentAtOnce = false;
  };

  const runTurn = (): void => {
    const started = options.now();
    const resumeNext = (): void => {
      const resume = waiting.shift();
      if (resume === undefined) {
        scheduled = false;
        return;
      }
      // A slice resumed from the queue waited: contention goes on until 20 ms after the last one.
      lastWaitAt = options.now();
      resume();
      // Queued after the resumed slice's continuation: runs after its first promise step.
      queueMicrotask(() => {
        if (waiting.length === 0) scheduled = false;
        else if (options.now() - started < options.budgetMs) resumeNext();
        else setImmediate(runTurn);
      });
    };
    resumeNext();
  };

  const next = (): Promise<void> => {
    const now = options.now();
    if (!scheduled && !wentAtOnce && now - lastWaitAt >= CONTENDED_FOR_MS) {
      wentAtOnce = true;
      setImmediate(clearWentAtOnce);
      return Promise.resolve();
    }
    lastWaitAt = now;
    return new Promise((resolve) => {
      waiting.push(resolve);
      if (!scheduled) {
        scheduled = true;
        setImmediate(runTurn);
      }
    });
  };

  return {
    next,
    giveWay: () => (waiting.length === 0 && !scheduled ? Promise.resolve() : next()),
  };
}

const shared = createCpuTurns({ budgetMs: CPU_TURN_BUDGET_MS, now: () => performance.now() });

/** The process's slices (every request's) taking turns: see createCpuTurns. */
export function nextCpuTurn(): Promise<void> {
  return shared.next();
}

/** Gives way to the process's waiting slices, if any (CpuTurns.giveWay). */
export function giveWayToCpuTurns(): Promise<void> {
  return shared.giveWay();
}
