import {
  createMessageRepository,
  createQuotaRepository,
  createSendJobRepository,
  type MessageRecord,
  type MessageRepository,
  type QuotaRepository,
  type SendJobRepository,
} from '../../src/store';
import { createFakeStores } from '../support/fakes';
import { queuedMessage } from '../support/messages';
import { openTestStore, type TestStore } from '../support/databases';

// The in-memory fakes (test/support/fakes) must not drift from the SQL repositories they stand in
// for: the same calls on both give the same answers. Behaviour the SQL repositories alone have
// (concurrency, both dialects) is covered by store.test.ts.
interface Repositories {
  messages: MessageRepository;
  quotas: QuotaRepository;
  sendJobs: SendJobRepository;
}

const T0 = '2026-11-25T01:00:00.000Z';
const T1 = '2026-11-25T01:00:05.000Z';
const T2 = '2026-11-25T01:01:00.000Z';

function message(id: string, batchId: string, overrides: Partial<MessageRecord> = {}): MessageRecord {
  return queuedMessage({
    id,
    tenantId: 'alpha',
    batchId,
    recipient: `+6141234567${id.slice(-1)}`,
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  });
}

/** One scenario over every method the send use case and the worker use; what each call answered. */
async function transcript({ messages, quotas, sendJobs }: Repositories): Promise<unknown[]> {
  const out: unknown[] = [];
  const day = [{ period: 'd:2026-11-25', limit: 5 }];
  const both = [...day, { period: 'm:2026-11', limit: 100 }];
  out.push(await quotas.reserve('alpha', both, 3));
  out.push(await quotas.reserve('alpha', both, 3)); // over the day: neither period changes
  out.push(await quotas.usage('alpha', ['d:2026-11-25', 'm:2026-11', 'unknown']));
  await quotas.release('alpha', ['d:2026-11-25', 'm:2026-11'], 5);
  out.push(await quotas.usage('alpha', ['d:2026-11-25', 'm:2026-11']));

  await messages.insertBatch([message('msg_a1', 'b-a'), message('msg_a2', 'b-a')]);
  await messages.insertBatch([message('msg_b1', 'b-b', { createdAt: T1, updatedAt: T1 })], {
    tenantId: 'alpha',
    request: '{"provider":{}}',
    expiresAt: T2,
  });
  out.push(
    await messages.recordOutcomes(
      [
        { id: 'msg_a1', status: 'sent', providerMessageId: 'p-1' },
        { id: 'msg_a2', status: 'failed', error: 'the provider did not accept this number' },
      ],
      T1,
    ),
  );
  // A status only moves forward: `unknown` after `sent` changes nothing; the provider id is kept.
  out.push(await messages.recordOutcomes([{ id: 'msg_a1', status: 'unknown', error: 'timed out' }], T2));
  out.push(await messages.findBatch('b-a'));
  out.push(await messages.findForTenant('alpha', 'msg_a1'));
  out.push(await messages.findForTenant('beta', 'msg_a1'));
  out.push(await messages.listForTenant('alpha', { offset: 0, size: 2 }));

  const [job] = await sendJobs.claimDue(T1, T2, 10);
  out.push(job);
  out.push(await sendJobs.claimDue(T1, T2, 10)); // leased: nobody else gets it
  await sendJobs.retryLater(job?.id ?? 0, T2, 'unavailable', T1);
  out.push(await sendJobs.claimDue(T1, T2, 10)); // not due yet
  const [again] = await sendJobs.claimDue(T2, '2026-11-25T01:02:00.000Z', 10);
  await sendJobs.markSending(again?.id ?? 0, 2, T2);
  await sendJobs.releaseAllLeases();
  out.push(await sendJobs.claimDue(T2, '2026-11-25T01:03:00.000Z', 10)); // found `sending`
  out.push(await sendJobs.countOpen());
  await sendJobs.finish(again?.id ?? 0, T2, 'unknown');
  out.push(await sendJobs.countOpen());
  return out;
}

describe('the in-memory repositories answer as the SQL ones do', () => {
  let sqlite: TestStore;
  beforeAll(async () => {
    sqlite = await openTestStore('sqlite');
  });
  afterAll(() => sqlite.drop());

  it('for the calls of the send use case and the send worker', async () => {
    const real = await transcript({
      messages: createMessageRepository(sqlite.db),
      quotas: createQuotaRepository(sqlite.db),
      sendJobs: createSendJobRepository(sqlite.db),
    });
    const fake = await transcript(createFakeStores());

    expect(fake).toEqual(real);
    // And the scenario says something: the over-quota reservation and the crash-found job show.
    expect(real[1]).toEqual({ exceeded: 'd:2026-11-25' });
    expect(real.at(-3)).toEqual([expect.objectContaining({ state: 'sending', attempts: 2 })]);
  });
});
