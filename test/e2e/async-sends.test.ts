import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import request from 'supertest';
import { createSandbox, type Sandbox } from '../../src/sandbox';
import type { RunningServer } from '../../src/server';
import { TEST_APPKEY, TEST_JWT_SECRET, TEST_WEBHOOK_SECRETS } from '../support/constants';
import { bearer, startTestGateway, tokenFor } from '../support/gateway';
import { ManualClock } from '../support/manual-clock';
import { freePort } from '../support/ports';
import { cleanEnv, startGatewayProcess, type GatewayProcess } from '../support/processes';
import { waitFor } from '../support/wait';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';

const FINAL = ['sent', 'scheduled', 'delivered', 'failed', 'expired', 'unknown'];

describe('durable sends: Prefer: respond-async (manual clock, provider on and off)', () => {
  const clock = new ManualClock(Date.now());
  let sandbox: Sandbox;
  let sandboxPort: number;
  let gw: RunningServer;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    sandboxPort = await freePort();
    sandbox = createSandbox({
      appKeys: [TEST_APPKEY],
      callsPerSecond: 15,
      pageSize: 25,
      dlrDelayMs: 3_600_000,
      clock,
    });
    await sandbox.start(sandboxPort, '127.0.0.1');
    receiver = await startWebhookReceiver();
    gw = await startTestGateway(
      {
        mode: 'production',
        // The provider timeout is real time: long enough that a busy machine never turns a slow
        // answer into a timeout (only the test's hang fault does), at the cost of one 5 s wait.
        upstream: { baseUrl: sandbox.apiUrl, timeoutMs: 5_000, maxQueueWaitMs: 60_000 },
        http: { requireHttps: false },
        messages: { asyncExpirySec: 3600 },
        tenants: {
          alpha: {
            quota: { segmentsPerDay: 1000 },
            webhook: { url: receiver.url, secret: TEST_WEBHOOK_SECRETS.alpha },
          },
        },
        webhooks: { allowPrivateTargets: [`127.0.0.1:${receiver.port}`] },
      },
      clock,
    );
  });
  afterAll(async () => {
    await gw.stop();
    await sandbox.stop();
    await receiver.close();
  });

  const sendAsync = (text: string) =>
    request(gw.url)
      .post('/v1/messages')
      .set({ ...bearer(tokenFor('alpha')), Prefer: 'respond-async' })
      .send({ to: '0412345678', text });
  const status = async (id: string) =>
    (
      await request(gw.url)
        .get(`/v1/messages/${id}`)
        .set(bearer(tokenFor('alpha')))
    ).body.data;
  const openJobs = async () =>
    Number(
      (
        await gw.db
          .selectFrom('send_jobs')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('state', '!=', 'done')
          .executeTakeFirstOrThrow()
      ).n,
    );
  /**
   * Moves the manual clock on in steps and lets the worker and the budget act at each (jobs may be
   * waiting for a provider slot, which only the clock frees, so the worker is nudged, not awaited).
   */
  async function runFor(ms: number, step = 1000) {
    for (let t = 0; t < ms; t += step) {
      clock.advance(step);
      gw.gateway.sends.notify();
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
  }
  const sandboxTexts = () => [...sandbox.sent.values()].map((m) => m.body);

  it('202 once committed (Preference-Applied), then sent by the worker and announced', async () => {
    const res = await sendAsync('async hello');
    expect(res.status).toBe(202);
    expect(res.headers['preference-applied']).toBe('respond-async');
    expect(res.body.data.messages[0]).toMatchObject({ status: 'queued' });
    await gw.gateway.sends.runOnce();
    const message = await status(res.body.data.messages[0].id);
    expect(message.status).toBe('sent');
    expect(message.history.map((h: { status: string }) => h.status)).toEqual(['queued', 'sent']);
    await waitFor(
      () => receiver.received.some((r) => JSON.parse(r.body).data.messageId === message.id),
      5000,
      'the event',
    );
  });

  it('provider down for 30 s: every 202 is sent after recovery, none twice, none lost', async () => {
    await sandbox.stop();
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) {
      const res = await sendAsync(`outage ${i}`);
      expect(res.status).toBe(202);
      ids.push(res.body.data.messages[0].id);
    }
    await runFor(30_000);
    expect(await openJobs()).toBe(50);
    expect((await status(ids[0]!)).status).toBe('queued');

    await sandbox.start(sandboxPort, '127.0.0.1');
    await runFor(20_000);
    await waitFor(
      async () => (await openJobs()) === 0 || (await runFor(1000), undefined),
      20_000,
      'all jobs done',
    );
    for (const id of ids) expect((await status(id)).status).toBe('sent');
    const outage = sandboxTexts().filter((t) => t.startsWith('outage '));
    expect(outage).toHaveLength(50);
    expect(new Set(outage).size).toBe(50);
  });

  it('a provider timeout leaves the messages unknown, and they are never resent', async () => {
    sandbox.setFaults({ hang: true });
    const res = await sendAsync('maybe sent');
    await gw.gateway.sends.runOnce();
    sandbox.setFaults({ hang: false });
    const id = res.body.data.messages[0].id;
    expect((await status(id)).status).toBe('unknown');
    await runFor(10_000);
    expect(sandbox.calls.filter((c) => JSON.stringify(c.body).includes('maybe sent'))).toHaveLength(1);
  });

  it('not sent before it expires → expired, its quota given back, and announced', async () => {
    await sandbox.stop();
    const usage = async () =>
      (
        await request(gw.url)
          .get('/v1/usage')
          .set(bearer(tokenFor('alpha')))
      ).body.data.quotas[0].used as number;
    const before = await usage();
    const res = await sendAsync('too late');
    expect(await usage()).toBe(before + 1);
    await runFor(3_700_000, 60_000);
    const id = res.body.data.messages[0].id;
    expect((await status(id)).status).toBe('expired');
    expect(await usage()).toBe(before);
    await waitFor(
      () =>
        receiver.received.some(
          (r) => JSON.parse(r.body).data.messageId === id && JSON.parse(r.body).data.status === 'expired',
        ),
      5000,
      'the expired event',
    );
    await sandbox.start(sandboxPort, '127.0.0.1');
  });
});

describe('kill -9 of a replica during async load', () => {
  let sandbox: Sandbox;
  let gateway: GatewayProcess | undefined;

  afterAll(async () => {
    await gateway?.kill();
    await sandbox?.stop();
  });

  it('after a restart every accepted message reaches a final state; none lost, none sent twice', async () => {
    sandbox = createSandbox({
      appKeys: [TEST_APPKEY],
      callsPerSecond: 15,
      pageSize: 25,
      dlrDelayMs: 3_600_000,
    });
    await sandbox.start(0, '127.0.0.1');
    sandbox.setFaults({ latencyMs: 100 });
    const dir = mkdtempSync(join(tmpdir(), 'smsgate-async-kill-'));
    const dbFile = join(dir, 'smsgate.db');
    const configFile = join(dir, 'smsgate.yaml');
    writeFileSync(
      configFile,
      JSON.stringify({
        http: { requireHttps: false },
        inbound: { pollIntervalMs: 0 },
        tenants: { alpha: { rateLimit: { requests: 10_000, windowSec: 60 } } },
      }),
    );
    const port = await freePort();
    const env = cleanEnv({
      SMSGATE_CONFIG: configFile,
      SMSGATE_MODE: 'production',
      SMSGATE_APPKEY: TEST_APPKEY,
      SMSGATE_JWT_SECRET: TEST_JWT_SECRET,
      SMSGATE_UPSTREAM_URL: sandbox.apiUrl,
      SMSGATE_SQLITE_FILE: dbFile,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    });
    const url = `http://127.0.0.1:${port}`;
    gateway = await startGatewayProcess(env);

    const accepted: string[] = [];
    const post = async (i: number) => {
      try {
        const res = await fetch(`${url}/v1/messages`, {
          method: 'POST',
          headers: {
            'Content-Type': 'application/json',
            Prefer: 'respond-async',
            ...bearer(tokenFor('alpha')),
          },
          body: JSON.stringify({ to: '0412345678', text: `load ${i}` }),
        });
        if (res.status === 202)
          accepted.push(
            ((await res.json()) as { data: { messages: { id: string }[] } }).data.messages[0]!.id,
          );
      } catch {
        // The process is gone: not accepted.
      }
    };
    let next = 0;
    const poster = async () => {
      while (next < 120) {
        const i = next++;
        await post(i);
        if (i === 60) void gateway!.kill();
      }
    };
    await Promise.all([poster(), poster(), poster()]);
    const beforeRestart = sandbox.sent.size;
    gateway = await startGatewayProcess(env);

    const ledger = () => {
      const db = new SQLite(dbFile, { readonly: true });
      const rows = db.prepare('select id, status, text from messages').all() as {
        id: string;
        status: string;
        text: string;
      }[];
      db.close();
      return new Map(rows.map((r) => [r.id, r]));
    };
    await waitFor(
      () => {
        const rows = ledger();
        return accepted.every((id) => FINAL.includes(rows.get(id)?.status ?? '')) || undefined;
      },
      30_000,
      'every accepted message in a final state',
    );
    const rows = ledger();
    expect(accepted.length).toBeGreaterThan(40);
    expect(beforeRestart).toBeLessThan(accepted.length); // the kill really cut the work short
    const texts = [...sandbox.sent.values()].map((m) => m.body);
    expect(new Set(texts).size).toBe(texts.length); // no text reached the provider twice
    const sent = accepted.filter((id) => rows.get(id)!.status === 'sent');
    for (const id of sent) expect(texts).toContain(rows.get(id)!.text);
    console.info(
      `async kill -9: ${accepted.length} accepted, ${beforeRestart} sent before the kill, ` +
        `${sent.length} sent in all, ${accepted.length - sent.length} unknown (cut mid-call)`,
    );
  }, 90_000);
});
