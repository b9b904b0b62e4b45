import { request as httpRequest, Agent } from 'node:http';
import type { RunningServer } from '../../src/server';
import { startTestGateway, tokenFor } from '../support/gateway';
import { ManualClock } from '../support/manual-clock';
import { waitFor } from '../support/wait';

/** Plain node:http: 1000 independent senders, each with its own request in flight at once. */
function post(url: string, token: string, body: object, agent: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${url}/v1/messages`,
      {
        method: 'POST',
        agent,
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/**
 * Resolves once `count` sends of `tenant` are recorded as queued. A send is recorded before it
 * joins a coalescing group, and what follows the record up to the join is promise continuations
 * only, so after one more turn of the event loop every recorded send is in its group.
 */
async function queued(gw: RunningServer, tenant: string, count: number): Promise<void> {
  await waitFor(
    async () => {
      const row = await gw.db
        .selectFrom('messages')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('tenant_id', '=', tenant)
        .where('status', '=', 'queued')
        .executeTakeFirstOrThrow();
      return Number(row.n) >= count;
    },
    // Not a budget: a safety net for a stuck send (a wave can take seconds on two busy cores).
    60_000,
    `${count} queued sends`,
  );
  await new Promise((resolve) => setImmediate(resolve));
}

/** A tenant that may send as fast as the test needs. */
const bulkTenant = {
  scopes: ['sms:send'],
  allowedCountries: ['AU'],
  rateLimit: { requests: 100_000, windowSec: 60 },
};

describe('coalescing end to end', () => {
  // The coalescing window runs on this clock: it closes only when the test says, so every send
  // is waiting before the first provider slot is granted, however slowly the requests arrive.
  const clock = new ManualClock();
  let gw: RunningServer;
  beforeAll(async () => {
    gw = await startTestGateway(
      {
        tenants: { bulk: bulkTenant },
        // No inbound backstop poll: it would take provider slots on its own (real-time) schedule.
        inbound: { pollIntervalMs: 0 },
        upstream: {
          coalesce: { enabled: true, windowMs: 1000 },
          maxQueueWaitMs: 20_000,
          // The one call carries 1000 numbers; on busy cores the sandbox may take seconds to
          // answer it, and a provider timeout is not what this test is about.
          timeoutMs: 60_000,
        },
      },
      clock,
    );
  });
  afterAll(() => gw.stop());

  it('carries 1000 single-recipient sends of the same text, all waiting at once, to the provider in one call', async () => {
    const token = tokenFor('bulk', { scope: 'sms:send' });
    const agent = new Agent({ keepAlive: true, maxSockets: 1000 });
    const numbers = Array.from({ length: 1000 }, (_, i) => `+614${String(10_000_000 + i)}`);
    // Clients connect a hundred at a time (each wave waiting until it is queued), so the
    // listener's accept backlog (511) never overflows, which on a busy machine makes the kernel
    // reset connections; all 1000 requests are still in flight together at the end.
    const pending: Promise<number>[] = [];
    for (let wave = 0; wave < 10; wave++) {
      for (const to of numbers.slice(wave * 100, (wave + 1) * 100))
        pending.push(post(gw.url, token, { to, text: 'Service notice: back online' }, agent));
      await queued(gw, 'bulk', pending.length);
    }
    const sending = Promise.all(pending);
    expect(gw.sandbox!.calls).toEqual([]);
    clock.advance(1000);
    const statuses = await sending;
    agent.destroy();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1000);
    const calls = gw.sandbox!.calls.filter((c) => c.endpoint === 'send-sms');

    // One call carries up to 1000 numbers (messages.maxRecipients).
    expect(calls).toHaveLength(1);
    expect(calls.every((c) => c.status === 200)).toBe(true);
    const sent = calls.flatMap((c) => (c.body as { numbers: string[] }).numbers);
    expect(sent).toHaveLength(1000);
    expect(new Set(sent)).toEqual(new Set(numbers));
  }, 240_000);
});

describe('bulk sending end to end', () => {
  const clock = new ManualClock();
  let gw: RunningServer;
  beforeAll(async () => {
    gw = await startTestGateway(
      {
        tenants: { bulk: bulkTenant },
        // No inbound backstop poll: it would take provider slots on its own (real-time) schedule.
        inbound: { pollIntervalMs: 0 },
        upstream: {
          callsPerSecond: 1,
          coalesce: { enabled: true, windowMs: 300 },
          bulkSend: true,
          maxQueueWaitMs: 10_000,
          timeoutMs: 60_000,
        },
      },
      clock,
    );
  });
  afterAll(() => gw.stop());

  it('carries different messages that wait together in one bulk-send-sms call, each caller getting its own message', async () => {
    const token = tokenFor('bulk', { scope: 'sms:send' });
    const agent = new Agent({ keepAlive: true, maxSockets: 100 });
    const sends = Array.from({ length: 20 }, (_, i) =>
      post(gw.url, token, { to: `+614${String(20_000_000 + i)}`, text: `Your code is ${1000 + i}` }, agent),
    );
    await queued(gw, 'bulk', 20);
    clock.advance(300);
    const statuses = await Promise.all(sends);
    agent.destroy();
    expect(statuses).toEqual(Array(20).fill(201));
    const calls = gw.sandbox!.calls;
    expect(calls.map((c) => c.endpoint)).toEqual(['bulk-send-sms']);
    const elements = calls[0]!.body as { sms_text: string; numbers: string[] }[];
    expect(elements).toHaveLength(20);
    expect(elements.map((e) => e.sms_text).sort()).toEqual(
      Array.from({ length: 20 }, (_, i) => `Your code is ${1000 + i}`).sort(),
    );
  });
});
