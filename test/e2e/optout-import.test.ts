import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { createSandbox, type Sandbox } from '../../src/sandbox';
import type { RunningServer } from '../../src/server';
import { TEST_APPKEY } from '../support/constants';
import { bearer, startTestGateway, tokenFor } from '../support/gateway';

// The provider's own opt-out list (get-optout, 25 a page in the sandbox) imported onto the
// account-wide suppression list, through the upstream budget, once per number, kept over a restart.
const NUMBERS = Array.from({ length: 60 }, (_, i) => `+614127000${String(i).padStart(2, '0')}`);

describe("importing the provider's opt-out list", () => {
  let sandbox: Sandbox;
  let gw: RunningServer | undefined;
  const file = join(mkdtempSync(join(tmpdir(), 'smsgate-optout-import-')), 'smsgate.db');
  const start = () =>
    startTestGateway({
      mode: 'production',
      http: { requireHttps: false },
      upstream: { baseUrl: sandbox.apiUrl },
      store: { sqliteFile: file },
      inbound: { pollIntervalMs: 0 },
      optOuts: { importIntervalMs: 0 },
      account: { pollIntervalMs: 0 },
    });
  const admin = () => bearer(tokenFor('ops', { scope: 'admin' }));
  const listed = async (g: RunningServer) => {
    const numbers: string[] = [];
    for (let page = 1; ; page++) {
      const res = await request(g.url).get(`/v1/admin/suppressions?tenant=*&page=${page}`).set(admin());
      numbers.push(...res.body.data.map((s: { number: string }) => s.number));
      if (page >= res.body.page.count) return numbers;
    }
  };

  beforeAll(async () => {
    sandbox = createSandbox({
      appKeys: [TEST_APPKEY],
      callsPerSecond: 15,
      pageSize: 25,
      dlrDelayMs: 3_600_000,
      optOuts: NUMBERS,
    });
    await sandbox.start(0, '127.0.0.1');
  });
  afterAll(async () => {
    await gw?.stop();
    await sandbox.stop();
  });

  it('60 numbers over 3 pages: each imported once, through the budget, and still there after a restart', async () => {
    gw = await start();
    expect(await gw.gateway.optOuts.importer.importOnce()).toEqual({ read: 60, added: 60, pages: 3 });
    const pages = sandbox.calls.filter((c) => c.endpoint === 'get-optout').map((c) => c.query.page);
    expect(pages).toEqual(['1', '2', '3']);
    // Each page waited for a slot like every provider call (the budget's own queue, `_optouts`).
    const metrics = await request(gw.url).get('/metrics');
    expect(metrics.text).toMatch(/smsgate_upstream_budget_wait_seconds_count\{tenant="_optouts"\} 3/);

    expect((await gw.gateway.optOuts.importer.importOnce()).added).toBe(0);
    const first = await listed(gw);
    expect(first.sort()).toEqual([...NUMBERS].sort());
    // Every tenant's marketing skips them; transactional still goes.
    const marketing = await request(gw.url)
      .post('/v1/messages')
      .set(bearer(tokenFor('beta')))
      .send({ to: NUMBERS[0], text: 'Offer. Reply STOP to opt out' });
    expect(marketing.body.data.messages[0].status).toBe('suppressed');

    await gw.stop();
    gw = await start();
    expect((await listed(gw)).sort()).toEqual([...NUMBERS].sort());
    expect((await gw.gateway.optOuts.importer.importOnce()).added).toBe(0);
    const csv = await request(gw.url).get('/v1/admin/suppressions/export?tenant=*').set(admin());
    expect(csv.text.trim().split('\r\n')).toHaveLength(61);
  });
});
