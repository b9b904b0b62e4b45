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
// Whose slice goes first: a slice may name its lane (a send's tenant) and its request's place in
// line (requestTurn). Lanes take turns round robin, so one tenant's burst of large sends never
// holds another tenant's slices behind all of its own. Within a lane the oldest request's slices
// go first: of a burst of 40 thousand-number sends from one tenant, the first is parsed and at the
// upstream budget after its own slices, not after every send's slices taken in turn (which had all
// 40 finish parsing together, ~650 ms in), and none finishes later than in turn. Slices that name
// no lane (a request's turn at the HTTP edge, before it is known whose it is) share one lane, first
// come first served.
// Hand-rolled (lanes of resolvers): no library schedules promise continuations against a per-turn
// time budget.

/** Whose a slice is: its lane (a tenant) and its request's place in line (lower goes first). */
export interface TurnKey {
  lane: string;
  order: number;
}

export interface CpuTurns {
  /**
   * Resolves in a later check phase, in its budget, when its lane's turn comes and no older
   * request of its lane waits (without a key: after every keyless slice queued before it); at
   * once for the first slice of a turn when none has waited for CONTENDED_FOR_MS.
   */
  next(key?: TurnKey): Promise<void>;
  /**
   * Gives way to the slices waiting for a turn: waits behind them when any wait (as `next`),
   * resolves at once when none does. For a slice that goes on from one that already had its turn
   * (a send's start, after its request's turn at the HTTP edge): with none waiting, waiting would
   * only count the request's own two turns as contention.
   */
  giveWay(key?: TurnKey): Promise<void>;
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
  const lanes = createLanes();
  let scheduled = false;
  // A slice went at once in this turn of the event loop (cleared in its check phase).
  let wentAtOnce = false;
  let lastWaitAt = Number.NEGATIVE_INFINITY;
  let keyless = 0;
  const clearWentAtOnce = (): void => {
    wentAtOnce = false;
  };

  const runTurn = (): void => {
    const started = options.now();
    const resumeNext = (): void => {
      const resume = lanes.take();
      if (resume === undefined) {
        scheduled = false;
        return;
      }
      // A slice resumed from the queue waited: contention goes on until 20 ms after the last one.
      lastWaitAt = options.now();
      resume();
      // Queued after the resumed slice's continuation: runs after its first promise step.
      queueMicrotask(() => {
        if (lanes.size() === 0) scheduled = false;
        else if (options.now() - started < options.budgetMs) resumeNext();
        else setImmediate(runTurn);
      });
    };
    resumeNext();
  };

  const next = (key?: TurnKey): Promise<void> => {
    const now = options.now();
    if (!scheduled && !wentAtOnce && now - lastWaitAt >= CONTENDED_FOR_MS) {
      wentAtOnce = true;
      setImmediate(clearWentAtOnce);
      return Promise.resolve();
    }
    lastWaitAt = now;
    return new Promise((resolve) => {
      lanes.add(key ?? { lane: KEYLESS_LANE, order: ++keyless }, resolve);
      if (!scheduled) {
        scheduled = true;
        setImmediate(runTurn);
      }
    });
  };

  return {
    next,
    giveWay: (key) => (lanes.size() === 0 && !scheduled ? Promise.resolve() : next(key)),
  };
}

/** The lane of slices that name none (their own order: first come first served). */
const KEYLESS_LANE = '';

interface Waiter {
  order: number;
  resume: () => void;
}

/**
 * Waiting slices by lane: `take` serves the lanes round robin (a Map keeps insertion order; a
 * served lane with more waiting goes to the back), and within a lane the lowest order, the
 * earliest of equals.
 */
function createLanes() {
  const lanes = new Map<string, Waiter[]>();
  let size = 0;
  return {
    size: () => size,
    add({ lane, order }: TurnKey, resume: () => void): void {
      const waiters = lanes.get(lane);
      if (waiters === undefined) {
        lanes.set(lane, [{ order, resume }]);
      } else {
        let at = waiters.length;
        while (at > 0 && (waiters[at - 1] as Waiter).order > order) at--;
        waiters.splice(at, 0, { order, resume });
      }
      size++;
    },
    take(): (() => void) | undefined {
      const first = lanes.entries().next();
      if (first.done) return undefined;
      const [lane, waiters] = first.value;
      const waiter = waiters.shift() as Waiter;
      lanes.delete(lane);
      if (waiters.length > 0) lanes.set(lane, waiters);
      size--;
      return waiter.resume;
    },
  };
}

const shared = createCpuTurns({ budgetMs: CPU_TURN_BUDGET_MS, now: () => performance.now() });
let requests = 0;

/** A new request's key in `lane` (its tenant): behind every request of the lane that came before. */
export function requestTurn(lane: string): TurnKey {
  return { lane, order: ++requests };
}

/** The process's slices (every request's) taking turns: see createCpuTurns. */
export function nextCpuTurn(key?: TurnKey): Promise<void> {
  return shared.next(key);
}

/** Gives way to the process's waiting slices, if any (CpuTurns.giveWay). */
export function giveWayToCpuTurns(key?: TurnKey): Promise<void> {
  return shared.giveWay(key);
}
