// In-memory fakes of the store's repositories, so use cases (sending, the send worker) can be
// unit-tested without a database or HTTP. Each implements the repository's interface from
// src/store and keeps to its documented behaviour; the SQL repositories are covered by
// test/store/store.test.ts on SQLite and PostgreSQL.
import { createFakeMessageRepository, type FakeMessageRepository } from './message-repository';
import { createFakeQuotaRepository, type FakeQuotaRepository } from './quota-repository';
import { createFakeSendJobRepository, type FakeSendJobRepository } from './send-job-repository';

export { createFakeMessageRepository, type FakeMessageRepository } from './message-repository';
export { createFakeQuotaRepository, type FakeQuotaRepository } from './quota-repository';
export {
  createFakeSendJobRepository,
  type FakeSendJobRepository,
  type FakeSendJobRow,
} from './send-job-repository';

export interface FakeStores {
  messages: FakeMessageRepository;
  sendJobs: FakeSendJobRepository;
  quotas: FakeQuotaRepository;
}

/** The repositories the send use case and the send worker need, sharing one in-memory "database". */
export function createFakeStores(): FakeStores {
  const sendJobs = createFakeSendJobRepository();
  const messages = createFakeMessageRepository({
    onJob: (batchId, job, createdAt) => sendJobs.add(batchId, job, createdAt),
  });
  return { messages, sendJobs, quotas: createFakeQuotaRepository() };
}
export { createFakeBudget, acceptAll, type FakeBudget } from './provider';
