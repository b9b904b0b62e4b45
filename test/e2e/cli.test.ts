import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import request from 'supertest';
import { TEST_APPKEY } from '../support/constants';
import { freePort } from '../support/ports';

// What a newcomer does: `npm start`, then `npm run token -- --tenant demo`, then curl.
const root = resolve(__dirname, '../..');

// Detached: npm leads its own process group, so a signal can reach npm, its shell and node
// together, as Ctrl-C in a terminal or a container stop does (npm's shell does not forward signals).
function npm(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn('npm', args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid !== undefined) process.kill(-child.pid, signal);
}

function run(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = npm(args, env);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

describe('npm start and npm run token on a fresh checkout', () => {
  let server: ChildProcess;
  let output = '';
  let env: NodeJS.ProcessEnv;
  let gatewayUrl = '';
  let sandboxUrl = '';

  beforeAll(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'smsgate-cli-'));
    const [port, sandboxPort] = [await freePort(), await freePort()];
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !name.startsWith('SMSGATE') && name !== 'PORT'),
    );
    env = {
      ...clean,
      PORT: String(port),
      SMSGATE_SQLITE_FILE: join(dataDir, 'smsgate.db'),
      SMSGATE__sandbox__port: String(sandboxPort),
      // A known key (the embedded sandbox accepts whatever key the gateway holds), so the
      // process output can be checked for it.
      SMSGATE_APPKEY: TEST_APPKEY,
      LOG_LEVEL: 'debug',
    };
    gatewayUrl = `http://127.0.0.1:${port}`;
    sandboxUrl = `http://127.0.0.1:${sandboxPort}`;
    server = npm(['start'], env);
    await new Promise<void>((ready, fail) => {
      const timer = setTimeout(
        () => fail(new Error(`npm start did not log a ready line:\n${output}`)),
        60_000,
      );
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('smsgate ready on')) {
          clearTimeout(timer);
          ready();
        }
      };
      server.stdout?.on('data', onData);
      server.stderr?.on('data', onData);
      server.on('exit', (code) => fail(new Error(`npm start exited with ${code}:\n${output}`)));
    });
  }, 90_000);

  afterAll(async () => {
    if (server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((done) => server.once('exit', done));
      signalGroup(server, 'SIGKILL');
      await exited;
    }
  });

  it('logs a ready line in sandbox mode with a sample command to send a first SMS', () => {
    const ready = output.split('\n').find((line) => line.includes('smsgate ready on'));
    expect(JSON.parse(ready ?? '{}')).toMatchObject({
      mode: 'sandbox',
      url: expect.stringMatching(/^http:\/\/localhost:\d+$/),
      sample: expect.stringContaining('npm run -s token -- --tenant demo'),
    });
  });

  it('mints a token that prints as one JWT and nothing else, and sends an SMS with it', async () => {
    const minted = await run(
      ['run', 'token', '--', '--tenant', 'demo', '--scope', 'sms:send sms:read', '--ttl', '15m'],
      env,
    );
    expect(minted.code).toBe(0);
    expect(minted.stdout).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/);
    const token = minted.stdout.trim();

    const sent = await request(gatewayUrl)
      .post('/v1/messages')
      .set('Authorization', `Bearer ${token}`)
      .send({ to: '0412345678', text: 'Hello from smsgate' });
    expect(sent.status).toBe(201);
    expect(sent.body.error.code).toBe('SUCCESS');

    const calls = await request(sandboxUrl).get('/_sandbox/calls');
    expect(calls.body).toEqual([
      expect.objectContaining({ endpoint: 'send-sms', status: 200, auth: 'appkey', keyValid: true }),
    ]);

    const id = sent.body.data.messages[0].id;
    const fetched = await request(gatewayUrl)
      .get(`/v1/messages/${id}`)
      .set('Authorization', `Bearer ${token}`);
    expect(fetched.body.data).toMatchObject({ id, status: 'sent' });
  }, 60_000);

  it('refuses to mint for an unknown tenant, on stderr with a non-zero exit', async () => {
    const minted = await run(['run', 'token', '--', '--tenant', 'nobody'], env);
    expect(minted.code).not.toBe(0);
    expect(minted.stderr).toContain("token: --tenant: unknown tenant 'nobody'");
    expect(minted.stdout).not.toMatch(/eyJ/);
  }, 60_000);

  it('never prints the APPKEY, on stdout or stderr, at debug level', () => {
    expect(output.length).toBeGreaterThan(0);
    expect(output).toContain('POST /v1/messages 201');
    expect(output).not.toContain(TEST_APPKEY);
  });

  it('runs the sandbox standalone with npm run sandbox', async () => {
    const port = await freePort();
    const sandbox = npm(['run', 'sandbox'], { ...env, SANDBOX_PORT: String(port) });
    try {
      const until = Date.now() + 30_000;
      let answer: request.Response | undefined;
      while (!answer && Date.now() < until) {
        answer = await request(`http://127.0.0.1:${port}`)
          .get('/api/v3/account')
          .set('APPKEY', TEST_APPKEY)
          .then(
            (r) => r,
            () => undefined,
          );
        if (!answer) await new Promise((done) => setTimeout(done, 200));
      }
      expect(answer?.status).toBe(200);
      expect(answer?.body).toMatchObject({
        meta: { code: 200, status: 'SUCCESS' },
        data: { sms_balance: expect.any(String) },
      });
    } finally {
      const closed = new Promise((done) => sandbox.once('close', done));
      signalGroup(sandbox, 'SIGTERM');
      await closed;
    }
  }, 60_000);

  it('shuts down on SIGTERM: logs it and exits promptly', async () => {
    const started = Date.now();
    // 'close' fires once every holder of the output pipes (npm, its shell and node) has gone.
    const exited = new Promise<void>((done) => server.once('close', () => done()));
    signalGroup(server, 'SIGTERM');
    await exited;
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(output).toMatch(/"signal":"SIGTERM".*"msg":"shutting down"/);
    expect(output).toMatch(/"msg":"stopped"/);
  }, 30_000);
});
