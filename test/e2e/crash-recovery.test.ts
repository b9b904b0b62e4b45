import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import request from 'supertest';
import { TEST_CALLBACK_TOKEN, TEST_JWT_SECRET, TEST_WEBHOOK_SECRETS } from '../support/constants';
import { bearer, tokenFor } from '../support/gateway';
import { freePort } from '../support/ports';
import { cleanEnv, startGatewayProcess, type GatewayProcess } from '../support/processes';
import { waitFor } from '../support/wait';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';

// The gateway runs as a real process and is killed with SIGKILL while the "provider" posts
// 1000 reports.
const REPORTS = 1000;
const BATCH = 10;

describe('SIGKILL while the provider posts 1000 delivery reports', () => {
  let receiver: WebhookReceiver;
  let env: NodeJS.ProcessEnv;
  let url: string;
  let dbFile: string;
  let gateway: GatewayProcess | undefined;

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    const dir = mkdtempSync(join(tmpdir(), 'smsgate-crash-'));
    dbFile = join(dir, 'smsgate.db');
    const configFile = join(dir, 'smsgate.yaml');
    writeFileSync(
      configFile,
      JSON.stringify({
        tenants: { alpha: { webhook: { url: receiver.url, secret: TEST_WEBHOOK_SECRETS.alpha } } },
        webhooks: { allowPrivateTargets: [`127.0.0.1:${receiver.port}`], pollIntervalMs: 200 },
        // The test is the provider here: the embedded sandbox keeps its own reports to itself.
        sandbox: { dlrDelayMs: 3_600_000 },
        inbound: { pollIntervalMs: 0 },
      }),
    );
    const port = await freePort();
    env = cleanEnv({
      SMSGATE_CONFIG: configFile,
      PORT: String(port),
      HOST: '127.0.0.1',
      SMSGATE_SQLITE_FILE: dbFile,
      SMSGATE_JWT_SECRET: TEST_JWT_SECRET,
      SMSGATE_CALLBACK_TOKEN: TEST_CALLBACK_TOKEN,
      LOG_LEVEL: 'warn',
    });
    url = `http://127.0.0.1:${port}`;
    gateway = await startGatewayProcess(env);
  }, 90_000);

  afterAll(async () => {
    await gateway?.kill();
    await receiver.close();
  });

  it('every report acknowledged with a 2xx reaches the tenant exactly once per (message, status); none is lost', async () => {
    const to = Array.from({ length: REPORTS }, (_, i) => `0412${String(i).padStart(6, '0')}`);
    const sent = await request(url)
      .post('/v1/messages')
      .set(bearer(tokenFor('alpha')))
      .send({ to, text: 'crash test' });
    expect(sent.status).toBe(201);
    const ledger = new SQLite(dbFile, { readonly: true });
    const providerIds = ledger
      .prepare('select provider_message_id as id from messages where tenant_id = ?')
      .all('alpha')
      .map((row) => (row as { id: string }).id);
    ledger.close();
    expect(providerIds).toHaveLength(REPORTS);

    const batches = Array.from({ length: REPORTS / BATCH }, (_, b) =>
      providerIds.slice(b * BATCH, (b + 1) * BATCH).map((id) => ({ message_id: id, status: 'Delivered' })),
    );
    const acknowledged = new Set<number>();
    const post = async (b: number) => {
      try {
        const res = await fetch(`${url}/v1/callbacks/cellcast/${TEST_CALLBACK_TOKEN}/dlr`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(batches[b]),
        });
        if (res.ok) acknowledged.add(b);
      } catch {
        // Connection refused or reset: not acknowledged, so the provider will post it again.
      }
    };

    // Four posters; the gateway is killed once a quarter of the batches are acknowledged.
    let next = 0;
    let killed = false;
    const poster = async () => {
      while (next < batches.length) {
        const b = next++;
        await post(b);
        if (!killed && acknowledged.size >= batches.length / 4) {
          killed = true;
          void gateway!.kill();
        }
      }
    };
    await Promise.all([poster(), poster(), poster(), poster()]);
    expect(killed).toBe(true);
    const acknowledgedBeforeRestart = new Set(acknowledged);
    expect(acknowledgedBeforeRestart.size).toBeLessThan(batches.length);
    const heardBeforeRestart = receiver.received.length;

    // Restart on the same store; the provider retries whatever it got no 2xx for.
    gateway = await startGatewayProcess(env);
    for (let b = 0; b < batches.length; b++) if (!acknowledged.has(b)) await post(b);
    expect(acknowledged.size).toBe(batches.length);

    const eventsByReport = new Map<string, Set<string>>();
    const collect = () => {
      eventsByReport.clear();
      for (const hit of receiver.received) {
        const event = JSON.parse(hit.body) as { data: { messageId: string; status: string } };
        const key = `${event.data.messageId}/${event.data.status}`;
        const ids = eventsByReport.get(key) ?? new Set<string>();
        ids.add(String(hit.headers['webhook-id']));
        eventsByReport.set(key, ids);
      }
      return eventsByReport.size;
    };
    await waitFor(() => collect() === REPORTS, 30_000, 'all 1000 events at the receiver');
    // Exactly once per (message, status): one webhook-id each (a redelivery after the crash
    // carries the same id, which is what receivers deduplicate on).
    expect([...eventsByReport.values()].filter((ids) => ids.size !== 1)).toEqual([]);
    const everyId = [...eventsByReport.values()].flatMap((ids) => [...ids]);
    expect(new Set(everyId).size).toBe(REPORTS);
    expect([...eventsByReport.keys()].every((key) => key.endsWith('/delivered'))).toBe(true);
    console.info(
      `crash test: ${acknowledgedBeforeRestart.size * BATCH} reports acknowledged before SIGKILL, ` +
        `${heardBeforeRestart} webhook requests before the restart, ${receiver.received.length} in all ` +
        `(${receiver.received.length - REPORTS} redelivered with their original webhook-id)`,
    );
  }, 120_000);
});
