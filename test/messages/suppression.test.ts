import type { Identity } from '../../src/auth';
import { parseConfig } from '../../src/config';
import { createQuotaService } from '../../src/limits';
import { createMessageSender, createSendWorker, type SuppressionCheck } from '../../src/messages';
import { createLogger } from '../../src/observability';
import { createFakeBudget, createFakeStores } from '../support/fakes';
import { ManualClock } from '../support/manual-clock';

// Suppression in the send use case and the durable-send worker, on fake repositories: a number
// on the list is never sent marketing and costs no quota (segments or credits), at request time and
// when it opted out while a durable send waited.
const config = parseConfig({
  tenants: { acme: { quota: { segmentsPerDay: 100, creditsPerDay: 100 }, allowedCountries: ['AU', 'NZ'] } },
  credits: { default: 1, countries: { NZ: 2.5 } },
});
const acme: Identity = { tenantId: 'acme', scopes: ['sms:send'], subject: 'u1' };
const silent = createLogger({ level: 'silent', secrets: [] });
const AU = '+61412345678';
const AU2 = '+61412345679';
const NZ = '+64211234567';

function setUp() {
  const clock = new ManualClock();
  const stores = createFakeStores();
  const quotas = createQuotaService(config, stores.quotas, clock);
  const budget = createFakeBudget();
  const listed = new Set<string>();
  const suppressions: SuppressionCheck = {
    suppressedAmong: async (_tenant, numbers) => new Set(numbers.filter((n) => listed.has(n))),
  };
  const common = {
    config,
    repository: stores.messages,
    sendThroughBudget: budget.send,
    quotas,
    clock,
    logger: silent,
    suppressions,
  };
  const send = createMessageSender(common);
  const worker = createSendWorker({
    ...common,
    jobs: stores.sendJobs,
    hasWebhook: () => false,
    onEvents: () => undefined,
    exclusiveStore: false,
  });
  const used = async () => Object.fromEntries((await quotas.status('acme')).map((q) => [q.name, q.used]));
  return { send, worker, budget, listed, used, stores };
}

describe('suppression (fake repositories)', () => {
  it('a marketing send skips a listed number: suppressed, no provider call for it, no segments or credits', async () => {
    const { send, budget, listed, used } = setUp();
    listed.add(AU);
    const result = await send(acme, { to: [AU, NZ], text: 'Sale. Reply STOP to opt out' });
    expect(result.messages.map((m) => [m.to, m.status])).toEqual([
      [AU, 'suppressed'],
      [NZ, 'sent'],
    ]);
    expect(budget.calls.map((c) => c.request.numbers)).toEqual([[NZ]]);
    expect(result).toMatchObject({ segments: 1, credits: 2.5 });
    expect(await used()).toEqual({ segmentsPerDay: 1, creditsPerDay: 2.5 });
  });

  it('every recipient suppressed: no provider call at all', async () => {
    const { send, budget, listed, used } = setUp();
    listed.add(AU);
    const result = await send(acme, { to: AU, text: 'Sale. Reply STOP to opt out' });
    expect(result.messages[0]?.status).toBe('suppressed');
    expect(budget.calls).toEqual([]);
    expect(await used()).toEqual({ segmentsPerDay: 0, creditsPerDay: 0 });
  });

  it('transactional sends are never suppressed', async () => {
    const { send, budget, listed } = setUp();
    listed.add(AU);
    const result = await send(acme, { to: AU, text: 'Code 1234', purpose: 'transactional' });
    expect(result.messages[0]).toMatchObject({ status: 'sent', purpose: 'transactional' });
    expect(budget.calls).toHaveLength(1);
  });

  it('the worker skips a number that opted out while the durable send waited, and gives its quota back', async () => {
    const { send, worker, budget, listed, used, stores } = setUp();
    await send(acme, { to: [AU, AU2, NZ], text: 'Sale. Reply STOP to opt out' }, { async: true });
    expect(await used()).toEqual({ segmentsPerDay: 3, creditsPerDay: 4.5 });
    listed.add(AU);
    await worker.runOnce();
    expect(budget.calls.map((c) => c.request.numbers)).toEqual([[AU2, NZ]]);
    expect(stores.messages.all().map((m) => [m.recipient, m.status])).toEqual([
      [AU, 'suppressed'],
      [AU2, 'sent'],
      [NZ, 'sent'],
    ]);
    // One of three numbers' segments back; credits by the same share (1.5 of 4.5).
    expect(await used()).toEqual({ segmentsPerDay: 2, creditsPerDay: 3 });
  });

  it('credit quotas refuse the send that would go over, in credits', async () => {
    const { send } = setUp();
    const nz = Array.from({ length: 40 }, (_, i) => `+6421123${String(4000 + i)}`);
    await send(acme, { to: nz, text: 'hi', purpose: 'transactional' }); // 40 x 2.5 = 100 credits
    await expect(send(acme, { to: AU, text: 'hi', purpose: 'transactional' })).rejects.toMatchObject({
      code: 'OVER_LIMIT',
      description: expect.stringMatching(
        /^quota: creditsPerDay is 100 credits, 100 used, this send needs 1;/,
      ),
    });
  });
});
