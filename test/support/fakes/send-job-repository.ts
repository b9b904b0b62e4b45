import type { NewSendJob, SendJob, SendJobRepository } from '../../../src/store';

/** A send job as the send_jobs table keeps it. */
export interface FakeSendJobRow extends SendJob {
  nextAttemptAt: string;
  leaseUntil: string | null;
  lastError: string | null;
}

export interface FakeSendJobRepository extends SendJobRepository {
  /** What the message repository's insertBatch writes with a durable batch. */
  add(batchId: string, job: NewSendJob, createdAt: string): void;
  rows(): FakeSendJobRow[];
}

/** Durable send jobs in memory, claimed under a lease like the SQL ones (ISO times compare as text). */
export function createFakeSendJobRepository(): FakeSendJobRepository {
  const jobs = new Map<number, FakeSendJobRow>();
  let nextId = 1;
  const update = (id: number, change: Partial<FakeSendJobRow>) => {
    const job = jobs.get(id);
    if (job) jobs.set(id, { ...job, ...change });
  };
  const snapshot = ({
    id,
    batchId,
    tenantId,
    request,
    state,
    attempts,
    expiresAt,
  }: FakeSendJobRow): SendJob => ({
    id,
    batchId,
    tenantId,
    request,
    state,
    attempts,
    expiresAt,
  });

  return {
    add(batchId, job, createdAt) {
      const id = nextId++;
      jobs.set(id, {
        id,
        batchId,
        tenantId: job.tenantId,
        request: job.request,
        state: 'pending',
        attempts: 0,
        expiresAt: job.expiresAt,
        nextAttemptAt: createdAt,
        leaseUntil: null,
        lastError: null,
      });
    },

    async claimDue(now, leaseUntil, limit) {
      const due = [...jobs.values()]
        .filter((job) => job.state === 'pending' || job.state === 'sending')
        .filter((job) => job.nextAttemptAt <= now && (job.leaseUntil === null || job.leaseUntil < now))
        .sort((a, b) =>
          a.nextAttemptAt === b.nextAttemptAt ? a.id - b.id : a.nextAttemptAt < b.nextAttemptAt ? -1 : 1,
        )
        .slice(0, limit);
      for (const job of due) update(job.id, { leaseUntil });
      return due.map(snapshot);
    },

    async markSending(id, attempts) {
      update(id, { state: 'sending', attempts });
    },

    async retryLater(id, nextAttemptAt, error) {
      update(id, { state: 'pending', nextAttemptAt, leaseUntil: null, lastError: error });
    },

    async finish(id, _at, error) {
      update(id, { state: 'done', leaseUntil: null, ...(error ? { lastError: error } : {}) });
    },

    async releaseAllLeases() {
      for (const job of jobs.values()) update(job.id, { leaseUntil: null });
    },

    async countOpen() {
      return [...jobs.values()].filter((job) => job.state !== 'done').length;
    },

    rows: () => [...jobs.values()].map((job) => ({ ...job })),
  };
}
