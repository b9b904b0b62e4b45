import { Agent, request as httpRequest } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { TEST_JWT_SECRET } from '../support/constants';
import { startTestGateway, tokenFor } from '../support/gateway';
import { captured } from '../support/leak-guard';
import { freePort } from '../support/ports';
import { cleanEnv, startGatewayProcess, type GatewayProcess } from '../support/processes';
import { waitFor } from '../support/wait';

interface Outcome {
  client: number;
  text: string;
  status?: number;
  error?: string;
  connectionClose?: boolean;
  /** Sent once readiness was seen failing (so surely during the drain). */
  draining: boolean;
}

/** One request on a keep-alive agent; resolves with the status or the socket error's code. */
function call(
  url: string,
  agent: Agent,
  route: { method: string; path: string; body?: string; headers?: Record<string, string> },
): Promise<Omit<Outcome, 'client' | 'text' | 'draining'>> {
  return new Promise((resolve) => {
    const req = httpRequest(
      `${url}${route.path}`,
      { method: route.method, agent, headers: { 'Content-Type': 'application/json', ...route.headers } },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, connectionClose: res.headers.connection === 'close' }),
        );
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    req.end(route.body);
  });
}

/** A raw keep-alive connection that made one request and then stays idle; resolves when the server closes it. */
async function idleKeepAliveConnection(port: number): Promise<{ closed: Promise<void>; socket: Socket }> {
  const socket = connect(port, '127.0.0.1');
  const closed = new Promise<void>((done) => socket.once('close', () => done()));
  let answer = '';
  await new Promise<void>((answered, fail) => {
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString();
      if (/\r\n\r\n[\s\S]*"ok"/.test(answer)) answered();
    });
    socket.once('error', fail);
    socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
  });
  socket.on('error', () => undefined);
  return { closed, socket };
}

describe('SIGTERM under load with keep-alive clients', () => {
  let gateway: GatewayProcess;
  let port: number;
  let url: string;
  let sandboxUrl: string;
  let dbFile: string;
  // The drain is the time the load balancer has to notice the failing readiness; ours notices at
  // once, so a long drain only makes sure it does on a loaded machine.
  const drainMs = 3000;
  const graceMs = 3000;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'smsgate-shutdown-'));
    const configFile = join(dir, 'smsgate.yaml');
    writeFileSync(
      configFile,
      JSON.stringify({
        shutdown: { drainDelayMs: drainMs, graceMs },
        tenants: { alpha: { rateLimit: { requests: 100_000, windowSec: 60 } } },
        inbound: { pollIntervalMs: 0 },
        sandbox: { dlrDelayMs: 3_600_000, callsPerSecond: 1000 },
        upstream: { callsPerSecond: 1000 },
      }),
    );
    const sandboxPort = await freePort();
    port = await freePort();
    url = `http://127.0.0.1:${port}`;
    sandboxUrl = `http://127.0.0.1:${sandboxPort}`;
    gateway = await startGatewayProcess(
      cleanEnv({
        SMSGATE_CONFIG: configFile,
        PORT: String(port),
        HOST: '127.0.0.1',
        SMSGATE_SQLITE_FILE: (dbFile = join(dir, 'smsgate.db')),
        SMSGATE_JWT_SECRET: TEST_JWT_SECRET,
        SMSGATE__sandbox__port: String(sandboxPort),
        LOG_LEVEL: 'warn',
      }),
    );
    // Each provider call takes 150 ms, so sends are in flight when the signal comes.
    await fetch(`${sandboxUrl}/_sandbox/faults`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ latencyMs: 150 }),
    });
  }, 60_000);
  afterAll(() => gateway.kill());

  it('serves every request of keep-alive clients through the drain (no reset, no 5xx), then exits 0 and frees the port', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const headers = { Authorization: `Bearer ${tokenFor('alpha', { ttlSec: 600 })}` };
    const outcomes: Outcome[] = [];
    // Four clients poll /healthz back to back (always between two requests, as the issue's
    // load was); four send SMS (always waiting on the provider).
    const routes = (n: number, i: number) =>
      n < 4
        ? { method: 'GET', path: '/healthz' }
        : {
            method: 'POST',
            path: '/v1/messages',
            headers,
            body: JSON.stringify({ to: '0412345678', text: `load ${n}.${i}` }),
          };
    const clients = 8;
    // The load balancer in front: it keeps routing to this replica until its health check sees
    // readiness fail, and (to exercise the drain) until every client has been told to reconnect
    // at least twice; then it sends the clients elsewhere.
    let readinessFailed = false;
    let inRotation = true;
    const closesSeen = new Array<number>(clients).fill(0);
    const gone = new Set<number>();
    const client = async (n: number) => {
      for (let i = 0; inRotation; i++) {
        const route = routes(n, i);
        const draining = readinessFailed;
        const outcome = { client: n, text: `load ${n}.${i}`, draining, ...(await call(url, agent, route)) };
        outcomes.push(outcome);
        if (outcome.connectionClose) closesSeen[n] = (closesSeen[n] ?? 0) + 1;
        if (outcome.error) break;
      }
      gone.add(n);
    };
    const load = Promise.all(Array.from({ length: clients }, (_, n) => client(n)));
    // A keep-alive connection idle across the signal: closed only once the drain is over.
    const idle = await idleKeepAliveConnection(port);
    let idleClosedAt: number | undefined;
    void idle.closed.then(() => (idleClosedAt = Date.now()));

    await waitFor(
      () => outcomes.filter((o) => o.status === 201).length >= 8,
      20_000,
      'sends before the signal',
    );
    const exited = new Promise<number | null>((resolve) =>
      gateway.child.once('exit', (code) => resolve(code)),
    );
    const signalledAt = Date.now();
    gateway.child.kill('SIGTERM');
    await waitFor(
      async () => {
        readinessFailed ||= (await fetch(`${url}/readyz`).then((r) => r.status)) === 503;
        return readinessFailed && closesSeen.every((seen, n) => seen >= 2 || gone.has(n));
      },
      20_000,
      'readiness failing and every client told to reconnect twice',
    );
    inRotation = false;
    await load;
    const code = await exited;
    const exitedAfter = Date.now() - signalledAt;
    await idle.closed;
    agent.destroy();

    const errors = outcomes.filter((o) => o.error);
    const answered = outcomes.filter((o) => o.status !== undefined);
    const duringDrain = answered.filter((o) => o.draining);
    console.info(
      `shutdown: ${answered.length} answered (${duringDrain.length} sent during the drain, ` +
        `${answered.filter((o) => o.connectionClose).length} with Connection: close), ` +
        `${errors.length} errors, exit after ${exitedAfter} ms, idle connection closed after ${(idleClosedAt ?? 0) - signalledAt} ms`,
    );
    expect(errors).toEqual([]);
    expect(answered.filter((o) => o.status! >= 500)).toEqual([]);
    expect(code).toBe(0);
    // Requests during the drain were served, each telling its client to reconnect.
    expect(duringDrain.filter((o) => !o.connectionClose)).toEqual([]);
    expect(duringDrain.length).toBeGreaterThan(0);
    expect(closesSeen.every((seen) => seen >= 2)).toBe(true);
    // The idle connection lived through the drain: nothing was closed under a client while draining.
    expect(idleClosedAt! - signalledAt).toBeGreaterThanOrEqual(drainMs);
    // Every accepted send is in the ledger.
    const ledger = new SQLite(dbFile, { readonly: true });
    const stored = new Set(
      ledger
        .prepare('select text from messages')
        .all()
        .map((row) => (row as { text: string }).text),
    );
    ledger.close();
    expect(answered.filter((o) => o.status === 201 && !stored.has(o.text))).toEqual([]);
    // The port is free again.
    const probe = createServer();
    await new Promise<void>((listening, fail) => {
      probe.once('error', fail);
      probe.listen(port, '127.0.0.1', listening);
    });
    await new Promise((done) => probe.close(done));
  }, 60_000);
});

describe('readiness while draining', () => {
  it('answers 503 and logs it at info, without an error or a stack (it is expected, not a fault)', async () => {
    const gw = await startTestGateway();
    try {
      gw.gateway.beginShutdown();
      const answer = await fetch(`${gw.url}/readyz`);
      expect(answer.status).toBe(503);
      const line = await waitFor(
        () =>
          captured.logLines
            .map((text) => JSON.parse(text) as Record<string, unknown>)
            .find((entry) => (entry.req as { path?: string } | undefined)?.path === '/readyz'),
        5000,
        'the access-log line of /readyz',
      );
      expect(line).toMatchObject({ level: 30, msg: 'GET /readyz 503', res: { statusCode: 503 } });
      expect(line).not.toHaveProperty('err');
      expect(JSON.stringify(line)).not.toMatch(/stack|at /);
    } finally {
      await gw.stop();
    }
  });
});
