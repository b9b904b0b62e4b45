import { setImmediate } from 'node:timers';

/**
 * Group commit: writes that arrive while one is in progress are written together, in the next
 * transaction, instead of each in its own. A transaction's fixed cost (BEGIN/COMMIT, the WAL
 * append on SQLite, a round trip each on PostgreSQL) is then paid once per group, and the group's
 * rows go in a few multi-row statements.
 *
 * Every caller's promise settles only after the transaction holding its write has committed: an
 * answer never runs ahead of its write. When a group's transaction fails, nothing of it was
 * written (it rolled back), and each of its writes is tried again alone, so one bad write fails
 * only its own caller, with its own error.
 *
 * A group starts when the event loop's turn ends (setImmediate), not at the end of the first
 * caller's microtasks: on SQLite the write itself is synchronous, so nothing can arrive "while it
 * is being written", and the requests parsed in one turn would otherwise each pay a transaction.
 * Gathering the turn joins them: on the capacity bench (SQLite, 32 connections), a send's two
 * writes had a transaction each; now (with its insert and outcome in one group, see
 * message-repository.ts) about 9 sends share one (docs/benchmarks.md, "Twelfth round"). The
 * cost is a wait until the next check phase of the event loop: the rest of this turn, or, for a
 * write queued from the check phase itself (a send resumed by nextCpuTurn), the next turn.
 *
 * Hand-rolled (about 60 lines): batching libraries (e.g. dataloader) gather a tick or a turn too,
 * but do not also gather "while the previous batch is being written", bound a group by rows, or
 * retry a failed group's jobs one by one.
 */
export type GroupWriter<J, R> = (job: J) => Promise<R>;

interface Waiting<J, R> {
  job: J;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

export interface GroupLimits<J> {
  /** Most jobs in one group. */
  maxJobs: number;
  /**
   * Most rows in one group, with `rowsOf` a job's rows. A group's COMMIT writes all its pages at
   * once (on SQLite, in the event loop): a dozen 1,000-number sends in one took ~60 ms of one turn.
   * A job over the limit alone is a group of its own.
   */
  maxRows: number;
  rowsOf: (job: J) => number;
}

const ONE_ROW_EACH: GroupLimits<unknown> = { maxJobs: 64, maxRows: Infinity, rowsOf: () => 1 };

export function createGroupCommit<J, R>(
  /** Writes the jobs in one transaction and returns each job's result, in order. */
  write: (jobs: J[]) => Promise<R[]>,
  limits: GroupLimits<J> = ONE_ROW_EACH,
): GroupWriter<J, R> {
  let waiting: Waiting<J, R>[] = [];
  let writing = false;

  async function flush(group: Waiting<J, R>[]): Promise<void> {
    try {
      const results = await write(group.map((w) => w.job));
      group.forEach((w, i) => w.resolve(results[i] as R));
    } catch (error) {
      if (group.length === 1) {
        group[0]?.reject(error);
        return;
      }
      for (const w of group) {
        try {
          const [result] = await write([w.job]);
          w.resolve(result as R);
        } catch (own) {
          w.reject(own);
        }
      }
    }
  }

  async function drain(): Promise<void> {
    while (waiting.length > 0) {
      let size = 0;
      let rows = 0;
      while (size < waiting.length && size < limits.maxJobs) {
        rows += limits.rowsOf((waiting[size] as Waiting<J, R>).job);
        if (size > 0 && rows > limits.maxRows) break;
        size++;
      }
      const group = waiting.slice(0, size);
      waiting = waiting.slice(size);
      await flush(group);
    }
    writing = false;
  }

  return (job) =>
    new Promise<R>((resolve, reject) => {
      waiting.push({ job, resolve, reject });
      if (writing) return;
      writing = true;
      // Writes queued in the rest of this turn (this request's, other requests') join the group.
      setImmediate(() => void drain());
    });
}
