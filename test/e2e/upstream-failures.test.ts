import { sql } from 'kysely';
import request from 'supertest';
import { createSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox';
import type { RunningServer } from '../../src/server';
import { TEST_APPKEY } from '../support/constants';
import { bearer, SHORT_UPSTREAM_TIMEOUT_MS, startTestGateway, tokenFor } from '../support/gateway';
import { captured } from '../support/leak-guard';

/** Every row of every table of the gateway's (SQLite) store, as text. */
async function everyStoredRow(gw: RunningServer): Promise<string> {
  const tables = await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(
    gw.db,
  );
  const dumps = await Promise.all(
    tables.rows.map(async ({ name }) =>
      JSON.stringify((await sql`select * from ${sql.table(name)}`.execute(gw.db)).rows),
    ),
  );
  return dumps.join('\n');
}

/** A gateway in production mode pointed at a sandbox of our own making, over loopback HTTP. */
async function gatewayAgainst(
  sandbox: Sandbox,
  upstream: Record<string, unknown> = {},
): Promise<RunningServer> {
  return startTestGateway({
    mode: 'production',
    http: { requireHttps: false },
    upstream: { baseUrl: sandbox.apiUrl, ...upstream },
  });
}

const send = (gw: RunningServer) =>
  request(gw.url)
    .post('/v1/messages')
    .set(bearer(tokenFor('alpha')))
    .send({ to: '0412345678', text: 'hi' });

async function statusOfLastMessage(gw: RunningServer): Promise<string | undefined> {
  const list = await request(gw.url)
    .get('/v1/messages')
    .set(bearer(tokenFor('alpha')));
  return list.body.data[0]?.status;
}

describe('when the provider fails, the gateway answers with a clear upstream error and stays up', () => {
  let sandbox: Sandbox;
  let gw: RunningServer;

  beforeAll(async () => {
    sandbox = createSandbox({ appKeys: [TEST_APPKEY], callsPerSecond: 15, pageSize: 25, dlrDelayMs: 60_000 });
    await sandbox.start();
    gw = await gatewayAgainst(sandbox);
  });
  afterAll(async () => {
    await gw.stop();
    await sandbox.stop();
  });
  beforeEach(() => sandbox.reset());
  afterEach(async () => {
    const health = await request(gw.url).get('/healthz');
    expect(health.status).toBe(200);
  });

  it('provider 400 FIELD_INVALID → 502 UPSTREAM_ERROR with the provider message; the message is failed', async () => {
    sandbox.setFaults({ respondWith: { httpStatus: 400, status: 'FIELD_INVALID', msg: 'from is invalid' } });
    const res = await send(gw);
    expect(res.status).toBe(502);
    expect(res.body.error).toEqual({
      code: 'UPSTREAM_ERROR',
      description: 'provider refused send-sms (HTTP 400 FIELD_INVALID): from is invalid',
    });
    expect(await statusOfLastMessage(gw)).toBe('failed');
  });

  it('an APPKEY the provider echoes (meta.status, msg) reaches no response, stored row or log line', async () => {
    const logsBefore = captured.logLines.length;
    sandbox.setFaults({
      respondWith: {
        httpStatus: 400,
        status: `BAD_KEY_${TEST_APPKEY}`,
        msg: `APPKEY ${TEST_APPKEY} is not allowed to send from this number`,
      },
    });
    const res = await send(gw);
    expect(res.status).toBe(502);
    expect(res.text).not.toContain(TEST_APPKEY);
    expect(res.body.error).toEqual({
      code: 'UPSTREAM_ERROR',
      description:
        'provider refused send-sms (HTTP 400 BAD_KEY_[REDACTED]): APPKEY [REDACTED] is not allowed to send from this number',
    });
    const listed = await request(gw.url)
      .get('/v1/messages')
      .set(bearer(tokenFor('alpha')));
    expect(listed.body.data[0].error).toBe(res.body.error.description);
    expect(listed.text).not.toContain(TEST_APPKEY);
    expect(await everyStoredRow(gw)).not.toContain(TEST_APPKEY);
    expect(captured.logLines.slice(logsBefore).join('')).not.toContain(TEST_APPKEY);
  });

  it('the same for a durable send: the job and the message keep the scrubbed error', async () => {
    sandbox.setFaults({
      respondWith: { httpStatus: 400, status: 'FIELD_INVALID', msg: `echo: ${TEST_APPKEY}` },
    });
    const queued = await request(gw.url)
      .post('/v1/messages')
      .set({ ...bearer(tokenFor('alpha')), Prefer: 'respond-async' })
      .send({ to: '0412345678', text: 'durable' });
    expect(queued.status).toBe(202);
    const id = queued.body.data.messages[0].id as string;
    let detail: request.Response | undefined;
    for (let i = 0; i < 250; i++) {
      detail = await request(gw.url)
        .get(`/v1/messages/${id}`)
        .set(bearer(tokenFor('alpha')));
      if (detail.body.data.status !== 'queued') break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(detail!.body.data.status).toBe('failed');
    expect(detail!.body.data.error).toMatch(/echo: \[REDACTED\]/);
    expect(detail!.text).not.toContain(TEST_APPKEY);
    expect(await everyStoredRow(gw)).not.toContain(TEST_APPKEY);
  });

  it('provider 500 → 502 UPSTREAM_ERROR', async () => {
    sandbox.setFaults({ errorRate: 1 });
    const res = await send(gw);
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe('UPSTREAM_ERROR');
    expect(res.body.error.description).toMatch(/HTTP 500/);
  });

  it('connection reset mid-call → 504 with outcome unknown', async () => {
    sandbox.setFaults({ resetRate: 1 });
    const res = await send(gw);
    expect(res.status).toBe(504);
    expect(res.body.error.description).toMatch(
      /connection to the provider dropped during send-sms .*outcome unknown/,
    );
  });

  it('provider 429 OVER_LIMIT → 503 UPSTREAM_UNAVAILABLE (not sent) with Retry-After', async () => {
    sandbox.setFaults({ respondWith: { httpStatus: 429, status: 'OVER_LIMIT', msg: 'over' } });
    const res = await send(gw);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.body.error.description).toMatch(/not sent/);
  });

  it('an answer that is not the provider envelope → 502, no crash', async () => {
    sandbox.setFaults({ respondWith: { httpStatus: 200, status: 'SUCCESS', msg: 'but no data' } });
    const res = await send(gw);
    expect(res.status).toBe(502);
    expect(res.body.error.description).toBe('provider send-sms answer was not in the documented shape');
  });
});

/** Runs `check` against a fresh sandbox and a gateway pointed at it, and stops both afterwards. */
async function withSandboxAndGateway(
  sandboxOptions: Partial<SandboxOptions>,
  upstream: Record<string, unknown>,
  check: (sandbox: Sandbox, gw: RunningServer) => Promise<void>,
): Promise<void> {
  const sandbox = createSandbox({
    appKeys: [TEST_APPKEY],
    callsPerSecond: 15,
    pageSize: 25,
    dlrDelayMs: 60_000,
    ...sandboxOptions,
  });
  await sandbox.start();
  const gw = await gatewayAgainst(sandbox, upstream);
  try {
    await check(sandbox, gw);
  } finally {
    await gw.stop();
    await sandbox.stop();
  }
}

describe('timeouts', () => {
  // A gateway of its own with a short timeout: the others' is generous, since on a busy machine a
  // short real-time timeout fires before the sandbox's answer is seen.
  it('provider hangs past the timeout → 504 UPSTREAM_TIMEOUT, message kept as unknown (never resent)', () =>
    withSandboxAndGateway({}, { timeoutMs: SHORT_UPSTREAM_TIMEOUT_MS }, async (sandbox, gw) => {
      sandbox.setFaults({ hang: true });
      const started = Date.now();
      const res = await send(gw);
      expect(res.status).toBe(504);
      expect(res.body.error).toEqual({
        code: 'UPSTREAM_TIMEOUT',
        description: 'provider did not answer send-sms in time; outcome unknown',
      });
      // The provider never answers, so the answer came from the gateway's own timeout, not before it
      // (an upper bound would be a wall-clock budget a busy machine can miss).
      expect(Date.now() - started).toBeGreaterThanOrEqual(SHORT_UPSTREAM_TIMEOUT_MS);
      expect(sandbox.calls.filter((c) => c.endpoint === 'send-sms')).toHaveLength(1);
      expect(await statusOfLastMessage(gw)).toBe('unknown');
    }));
});

describe('credentials and reachability', () => {
  it('provider 401 AUTH_FAILED (wrong APPKEY) → 502 naming the credentials problem, without the key', () =>
    withSandboxAndGateway({ appKeys: ['the-real-key-is-different'] }, {}, async (sandbox, gw) => {
      const res = await send(gw);
      expect(res.status).toBe(502);
      expect(res.body.error).toEqual({
        code: 'UPSTREAM_ERROR',
        description:
          "provider refused the gateway's credentials on send-sms (HTTP 401 AUTH_FAILED); check upstream.appKey",
      });
      expect(sandbox.calls[0]?.metaStatus).toBe('AUTH_FAILED');
    }));

  it('basic auth mode sends the APPKEY as HTTP Basic credentials, as the overview page words it', () =>
    withSandboxAndGateway({ acceptBasicAuth: true }, { authMode: 'basic' }, async (sandbox, gw) => {
      expect((await send(gw)).status).toBe(201);
      expect(sandbox.calls[0]?.appKey).toBeUndefined();
      expect(sandbox.calls[0]?.authorization).toBe(
        `Basic ${Buffer.from(`${TEST_APPKEY}:`).toString('base64')}`,
      );
    }));

  it('provider unreachable → 503 UPSTREAM_UNAVAILABLE saying it was not sent', () =>
    withSandboxAndGateway({}, {}, async (sandbox, gw) => {
      await sandbox.stop();
      const res = await send(gw);
      expect(res.status).toBe(503);
      expect(res.body.error.description).toMatch(
        /provider unreachable for send-sms \(ECONNREFUSED\); not sent/,
      );
      expect(await statusOfLastMessage(gw)).toBe('failed');
    }));
});
