import { request as httpRequest, Agent } from 'node:http';
import type { RunningServer } from '../../src/server';
import { startTestGateway, tokenFor } from '../support/gateway';

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

/** A tenant that may send as fast as the test needs. */
const bulkTenant = {
  scopes: ['sms:send'],
  allowedCountries: ['AU'],
  rateLimit: { requests: 100_000, windowSec: 60 },
};

describe('coalescing end to end', () => {
  let gw: RunningServer;
  beforeAll(async () => {
    gw = await startTestGateway({
      tenants: { bulk: bulkTenant },
      upstream: { coalesce: { enabled: true, windowMs: 1000 }, maxQueueWaitMs: 20_000 },
    });
  });
  afterAll(() => gw.stop());

  it('carries 1000 single-recipient sends of the same text to the provider in at most 5 calls', async () => {
    const token = tokenFor('bulk', { scope: 'sms:send' });
    const agent = new Agent({ keepAlive: true, maxSockets: 1000 });
    const numbers = Array.from({ length: 1000 }, (_, i) => `+614${String(10_000_000 + i)}`);
    const statuses = await Promise.all(
      numbers.map((to) => post(gw.url, token, { to, text: 'Service notice: back online' }, agent)),
    );
    agent.destroy();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1000);
    const calls = gw.sandbox!.calls.filter((c) => c.endpoint === 'send-sms');

    expect(calls.length).toBeLessThanOrEqual(5);
    expect(calls.every((c) => c.status === 200)).toBe(true);
    const sent = calls.flatMap((c) => (c.body as { numbers: string[] }).numbers);
    expect(new Set(sent)).toEqual(new Set(numbers));
  }, 60_000);
});

describe('bulk sending end to end', () => {
  let gw: RunningServer;
  beforeAll(async () => {
    gw = await startTestGateway({
      tenants: { bulk: bulkTenant },
      upstream: {
        callsPerSecond: 1,
        coalesce: { enabled: true, windowMs: 300 },
        bulkSend: true,
        maxQueueWaitMs: 10_000,
      },
    });
  });
  afterAll(() => gw.stop());

  it('carries different messages that wait together in one bulk-send-sms call, each caller getting its own message', async () => {
    const token = tokenFor('bulk', { scope: 'sms:send' });
    const agent = new Agent({ keepAlive: true, maxSockets: 100 });
    const sends = Array.from({ length: 20 }, (_, i) =>
      post(gw.url, token, { to: `+614${String(20_000_000 + i)}`, text: `Your code is ${1000 + i}` }, agent),
    );
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
