import type { Identity } from '../../src/auth';
import { parseConfig } from '../../src/config';
import { ApiError } from '../../src/http';
import { createQuotaService } from '../../src/limits';
import { createMessageSender, type QueuedSend } from '../../src/messages';
import { createLogger } from '../../src/observability';
import { UpstreamError } from '../../src/upstream';
import {
  acceptAll,
  createFakeBudget,
  createFakeStores,
  type FakeBudget,
  type FakeStores,
} from '../support/fakes';
import { ManualClock } from '../support/manual-clock';

// The send use case on its own: in-memory repositories, a fake budget standing in for the
// scheduler and the provider, and a manual clock. No HTTP, no database.
const config = parseConfig({
  tenants: {
    acme: { quota: { segmentsPerDay: 10, segmentsPerMonth: 100 } },
  },
});
const acme: Identity = { tenantId: 'acme', scopes: ['sms:send'], subject: 'u1' };
const silent = createLogger({ level: 'silent', secrets: [] });

function setUp(budget: FakeBudget = createFakeBudget(), stores: FakeStores = createFakeStores()) {
  const clock = new ManualClock();
  const quotas = createQuotaService(config, stores.quotas, clock);
  const queued: number[] = [];
  const send = createMessageSender({
    config,
    repository: stores.messages,
    sendThroughBudget: budget.send,
    quotas,
    clock,
    logger: silent,
    onQueued: () => queued.push(clock.now()),
  });
  const used = async () => Object.fromEntries((await quotas.status('acme')).map((q) => [q.name, q.used]));
  return { send, stores, budget, clock, used, queued };
}

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected the send to fail');
    },
    (error: unknown) => error,
  );

describe('sending (createMessageSender over fake repositories)', () => {
  it('reserves the quota, records queued then sent with the provider ids, and keeps the segments', async () => {
    const { send, stores, budget, clock, used } = setUp();
    const result = await send(acme, { to: ['0412345678', '0412345679'], text: 'hello' });

    expect(budget.calls).toHaveLength(1);
    expect(budget.calls[0]?.request.numbers).toEqual(['+61412345678', '+61412345679']);
    expect(result.messages.map((m) => m.status)).toEqual(['sent', 'sent']);
    expect(result.segments).toBe(2);
    const at = new Date(clock.now()).toISOString();
    for (const message of stores.messages.all()) {
      expect(message.providerMessageId).toMatch(/^p-b-/);
      expect(message.createdAt).toBe(at);
      expect(stores.messages.historyOf(message.id).map((h) => h.status)).toEqual(['queued', 'sent']);
    }
    expect(await used()).toEqual({ segmentsPerDay: 2, segmentsPerMonth: 2 });
  });

  it('sends a number written several ways once, and charges it once', async () => {
    const { send, budget, used } = setUp();
    const result = await send(acme, { to: ['0412345678', '+61412345678', '61412345678'], text: 'hi' });

    expect(budget.calls.map((c) => c.request.numbers)).toEqual([['+61412345678']]);
    expect(result.total).toBe(1);
    expect(await used()).toEqual({ segmentsPerDay: 1, segmentsPerMonth: 1 });
  });

  it('gives the quota back when the provider refuses the send, and records it failed', async () => {
    const refused = new UpstreamError('rejected', 'the provider refused the send', {
      httpStatus: 400,
      status: 'BAD_REQUEST',
    });
    const { send, stores, used } = setUp(
      createFakeBudget(() => {
        throw refused;
      }),
    );
    expect(await failure(send(acme, { to: ['0412345678', '0412345679'], text: 'x'.repeat(200) }))).toBe(
      refused,
    );

    expect(stores.messages.all().map((m) => [m.status, m.error])).toEqual([
      ['failed', 'the provider refused the send'],
      ['failed', 'the provider refused the send'],
    ]);
    expect(await used()).toEqual({ segmentsPerDay: 0, segmentsPerMonth: 0 });
  });

  it('gives back only the segments of numbers the provider left out', async () => {
    const { send, stores, used } = setUp(createFakeBudget((request) => acceptAll(request, ['+61412345679'])));
    const result = await send(acme, { to: ['0412345678', '0412345679', '0412345670'], text: 'hi' });

    expect(result.messages.map((m) => [m.to, m.status])).toEqual([
      ['+61412345678', 'sent'],
      ['+61412345679', 'failed'],
      ['+61412345670', 'sent'],
    ]);
    expect(stores.messages.all().find((m) => m.recipient === '+61412345679')?.error).toBe(
      'the provider did not accept this number',
    );
    expect(await used()).toEqual({ segmentsPerDay: 2, segmentsPerMonth: 2 });
  });

  it('leaves the outcome unknown after a provider timeout (504), keeping the segments: it may have been sent', async () => {
    const timeout = new UpstreamError('timeout', 'the provider did not answer within 10000 ms');
    const { send, stores, used } = setUp(
      createFakeBudget(() => {
        throw timeout;
      }),
    );
    const error = await failure(send(acme, { to: '0412345678', text: 'hi' }));

    expect(error).toBe(timeout);
    expect((error as ApiError).status).toBe(504);
    expect(stores.messages.all().map((m) => m.status)).toEqual(['unknown']);
    expect(await used()).toEqual({ segmentsPerDay: 1, segmentsPerMonth: 1 });
  });

  it('refuses a send over the quota before anything is recorded or sent', async () => {
    const { send, stores, budget, used } = setUp();
    const four = ['0412345670', '0412345671', '0412345672', '0412345673'];
    await send(acme, { to: four, text: 'x'.repeat(200) }); // 4 x 2 = 8 segments of 10
    const error = await failure(send(acme, { to: '0412345678', text: 'x'.repeat(400) })); // 3 more

    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe('OVER_LIMIT');
    expect((error as ApiError).description).toMatch(
      /segmentsPerDay is 10 segments, 8 used, this send needs 3/,
    );
    expect(budget.calls).toHaveLength(1);
    expect(stores.messages.all()).toHaveLength(4);
    expect(await used()).toEqual({ segmentsPerDay: 8, segmentsPerMonth: 8 });
  });

  it('gives the quota back when the batch cannot be recorded, and never calls the provider', async () => {
    const stores = createFakeStores();
    const diskFull = new Error('disk full');
    stores.messages.insertBatch = () => Promise.reject(diskFull);
    const { send, budget, used } = setUp(createFakeBudget(), stores);

    expect(await failure(send(acme, { to: '0412345678', text: 'hi' }))).toBe(diskFull);
    expect(budget.calls).toHaveLength(0);
    expect(await used()).toEqual({ segmentsPerDay: 0, segmentsPerMonth: 0 });
  });

  it('queues a durable send with its job and quota, without calling the provider', async () => {
    const { send, stores, budget, clock, used, queued } = setUp();
    const result = await send(acme, { to: '0412345678', text: 'later' }, { async: true });

    expect(result.messages.map((m) => m.status)).toEqual(['queued']);
    expect(budget.calls).toHaveLength(0);
    expect(queued).toEqual([clock.now()]);
    const [job] = stores.sendJobs.rows();
    expect(job).toMatchObject({
      tenantId: 'acme',
      state: 'pending',
      batchId: stores.messages.all()[0]?.batchId,
      expiresAt: new Date(clock.now() + config.messages.asyncExpirySec * 1000).toISOString(),
    });
    const carried = JSON.parse(job?.request ?? '{}') as QueuedSend;
    expect(carried.provider.numbers).toEqual(['+61412345678']);
    expect(carried.reservation).toMatchObject({ tenantId: 'acme', amount: 1 });
    expect(await used()).toEqual({ segmentsPerDay: 1, segmentsPerMonth: 1 });
  });
});
