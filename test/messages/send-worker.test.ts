import type { Identity } from '../../src/auth';
import { parseConfig } from '../../src/config';
import { createQuotaService } from '../../src/limits';
import { createMessageSender, createSendWorker, type QueuedSend } from '../../src/messages';
import { createLogger } from '../../src/observability';
import type { StoredEvent } from '../../src/store';
import { UpstreamError, type ProviderSendRequest, type ProviderSendResult } from '../../src/upstream';
import { acceptAll, createFakeBudget, createFakeStores } from '../support/fakes';
import { ManualClock } from '../support/manual-clock';

// The durable-send worker on its own: jobs queued by the send use case into in-memory
// repositories, a fake budget, a manual clock, and one pass at a time (runOnce), so retries and
// expiry are driven by moving the clock, not by waiting.
const config = parseConfig({ tenants: { acme: { quota: { segmentsPerDay: 10 } } } });
const acme: Identity = { tenantId: 'acme', scopes: ['sms:send'], subject: 'u1' };
const silent = createLogger({ level: 'silent', secrets: [] });

function setUp(
  answer: (request: ProviderSendRequest, call: number) => ProviderSendResult = (request) =>
    acceptAll(request),
) {
  const clock = new ManualClock();
  const stores = createFakeStores();
  const quotas = createQuotaService(config, stores.quotas, clock);
  let call = 0;
  const budget = createFakeBudget((request) => answer(request, ++call));
  const events: StoredEvent[] = [];
  const common = {
    config,
    repository: stores.messages,
    sendThroughBudget: budget.send,
    quotas,
    clock,
    logger: silent,
  };
  const send = createMessageSender(common);
  const worker = createSendWorker({
    ...common,
    jobs: stores.sendJobs,
    hasWebhook: () => false,
    onEvents: (stored) => events.push(...stored),
    exclusiveStore: false,
    // Backoff jitter at its middle: exactly 1 s, 2 s, 4 s …
    random: () => 0.5,
  });
  const queue = () => send(acme, { to: ['0412345678', '0412345679'], text: 'hi' }, { async: true });
  const statuses = () => stores.messages.all().map((m) => m.status);
  const job = () => stores.sendJobs.rows()[0];
  // Read in the period the send was reserved in: the clock may have moved into the next day.
  const used = async () => {
    const { reservation } = JSON.parse(job()?.request ?? '{}') as QueuedSend;
    return stores.quotas.used(reservation.tenantId, reservation.periods[0] ?? '');
  };
  return { clock, stores, budget, events, worker, queue, statuses, used, job };
}

describe('the send worker (createSendWorker over fake repositories)', () => {
  it('sends a queued batch, marking the job sending before the call, and announces each outcome', async () => {
    let stateDuringCall: string | undefined;
    const { worker, queue, statuses, events, budget, used, job, stores } = setUp((request) => {
      stateDuringCall = stores.sendJobs.rows()[0]?.state;
      return acceptAll(request);
    });
    await queue();
    await worker.runOnce();

    expect(budget.calls).toHaveLength(1);
    expect(stateDuringCall).toBe('sending');
    expect(statuses()).toEqual(['sent', 'sent']);
    expect(events.map((e) => JSON.parse(e.payload).data.status)).toEqual(['sent', 'sent']);
    expect(job()).toMatchObject({ state: 'done', attempts: 1, leaseUntil: null });
    expect(await used()).toBe(2);
  });

  it('retries a send that provably went nowhere after its backoff, not before', async () => {
    const { worker, queue, statuses, budget, clock, job, used } = setUp((request, call) => {
      if (call === 1) throw new UpstreamError('unavailable', 'the provider could not be reached');
      return acceptAll(request);
    });
    await queue();
    await worker.runOnce();

    expect(statuses()).toEqual(['queued', 'queued']);
    expect(job()).toMatchObject({
      state: 'pending',
      nextAttemptAt: new Date(clock.now() + 1000).toISOString(),
      lastError: expect.stringContaining('could not be reached'),
    });
    clock.advance(999);
    await worker.runOnce();
    expect(budget.calls).toHaveLength(1);

    clock.advance(1);
    await worker.runOnce();
    expect(budget.calls).toHaveLength(2);
    expect(statuses()).toEqual(['sent', 'sent']);
    expect(job()).toMatchObject({ state: 'done', attempts: 2 });
    expect(await used()).toBe(2);
  });

  it('expires a job not sent in time and gives its quota back, without calling the provider', async () => {
    const { worker, queue, statuses, budget, clock, used } = setUp();
    await queue();
    clock.advance(config.messages.asyncExpirySec * 1000);
    await worker.runOnce();

    expect(budget.calls).toHaveLength(0);
    expect(statuses()).toEqual(['expired', 'expired']);
    expect(await used()).toBe(0);
  });

  it('never resends a job found mid-call after a crash: its messages become unknown and keep their quota', async () => {
    const { worker, queue, statuses, budget, clock, job, stores, used } = setUp();
    await queue();
    // The previous process took the slot, stored `sending`, and died during the provider call.
    await stores.sendJobs.markSending(job()?.id ?? 0, 1, new Date(clock.now()).toISOString());
    await worker.runOnce();

    expect(budget.calls).toHaveLength(0);
    expect(statuses()).toEqual(['unknown', 'unknown']);
    expect(job()?.state).toBe('done');
    expect(await used()).toBe(2);
  });

  it('leaves the outcome unknown after a provider timeout, without retrying, and keeps the quota', async () => {
    const { worker, queue, statuses, budget, clock, job, used } = setUp(() => {
      throw new UpstreamError('timeout', 'the provider did not answer within 10000 ms');
    });
    await queue();
    await worker.runOnce();
    clock.advance(60_000);
    await worker.runOnce();

    expect(budget.calls).toHaveLength(1);
    expect(statuses()).toEqual(['unknown', 'unknown']);
    expect(job()?.state).toBe('done');
    expect(await used()).toBe(2);
  });

  it('records a refused send as failed and gives the quota back', async () => {
    const { worker, queue, statuses, used } = setUp(() => {
      throw new UpstreamError('rejected', 'the provider refused the send', {
        httpStatus: 400,
        status: 'BAD_REQUEST',
      });
    });
    await queue();
    await worker.runOnce();

    expect(statuses()).toEqual(['failed', 'failed']);
    expect(await used()).toBe(0);
  });
});
