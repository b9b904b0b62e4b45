import { setImmediate } from 'node:timers';

// Long CPU work of one request (a 1,000-number send's parsing and answer) is done in slices with
// a turn of the event loop between them. But the slices of many requests that wait for the same
// turn all run in it: 40 thousand-number sends each slicing put ~80 ms in one turn, and timers,
// provider writes and other sockets waited that long. Here those requests take turns instead: one
// slice per turn of the event loop, first come first served, so a turn holds one slice whatever
// the number of requests slicing. Hand-rolled (a queue of resolvers): no library schedules
// promise continuations one per event-loop turn.

const waiting: (() => void)[] = [];
let scheduled = false;

/** Resolves at a later turn of the event loop, after every slice queued before it. */
export function nextCpuTurn(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (!scheduled) {
      scheduled = true;
      setImmediate(resumeOne);
    }
  });
}

function resumeOne(): void {
  const resume = waiting.shift();
  // A callback queued from the check phase runs in the next turn, after its timers and I/O.
  if (waiting.length > 0) setImmediate(resumeOne);
  else scheduled = false;
  resume?.();
}
