import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { TEST_APPKEY, TEST_JWT_SECRET } from '../support/constants';
import { freePort } from '../support/ports';
import { waitFor } from '../support/wait';

// What a newcomer does: `npm install` (which builds), `npm start`, then
// `TOKEN=$(npm run -s token -- --tenant demo)` (or `npx smsgate token …`), then curl.
const root = resolve(__dirname, '../..');

// Detached: npm leads its own process group, so the test can clean up everything it started
// (npm, a shell, node) with one signal to the group.
function spawnIn(cwd: string, command: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is already gone.
  }
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, cwd = root): Promise<Run> {
  return new Promise((done) => {
    const child = spawnIn(cwd, command, args, env);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** Whether this test process can listen on the port (nothing else holds it). */
function portIsFree(port: number): Promise<boolean> {
  const probe = createServer();
  return new Promise((done) => {
    probe.once('error', () => done(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => done(true)));
  });
}

const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/;

describe('npm start and the token CLI on a checkout', () => {
  let server: ChildProcess;
  let output = '';
  let env: NodeJS.ProcessEnv;
  let port: number;
  let gatewayUrl = '';
  let sandboxUrl = '';

  beforeAll(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'smsgate-cli-'));
    const sandboxPort = await freePort();
    port = await freePort();
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !name.startsWith('SMSGATE') && name !== 'PORT'),
    );
    env = {
      ...clean,
      PORT: String(port),
      SMSGATE_SQLITE_FILE: join(dataDir, 'smsgate.db'),
      SMSGATE__sandbox__port: String(sandboxPort),
      SMSGATE__shutdown__drainDelayMs: '500',
      // A known key (the embedded sandbox accepts whatever key the gateway holds), so the
      // process output can be checked for it.
      SMSGATE_APPKEY: TEST_APPKEY,
      LOG_LEVEL: 'debug',
    };
    gatewayUrl = `http://127.0.0.1:${port}`;
    sandboxUrl = `http://127.0.0.1:${sandboxPort}`;
    // What `npm install` runs after installing the dependencies: the build, once.
    const prepared = await run('npm', ['run', 'prepare'], env);
    if (prepared.code !== 0) throw new Error(`npm run prepare failed:\n${prepared.stdout}${prepared.stderr}`);
    server = spawnIn(root, 'npm', ['start'], env);
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
  }, 180_000);

  afterAll(async () => {
    if (server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((done) => server.once('exit', done));
      signalGroup(server, 'SIGKILL');
      await exited;
    }
    // Whatever npm left behind in its group (an orphaned gateway, before the fix).
    signalGroup(server, 'SIGKILL');
  });

  it('logs a ready line in sandbox mode with a sample command to send a first SMS', () => {
    const ready = output.split('\n').find((line) => line.includes('smsgate ready on'));
    expect(JSON.parse(ready ?? '{}')).toMatchObject({
      mode: 'sandbox',
      url: expect.stringMatching(/^http:\/\/localhost:\d+$/),
      sample: expect.stringContaining('npm run -s token -- --tenant demo'),
    });
  });

  it('mints with `npm run -s token` (one JWT on stdout, no rebuild) and sends an SMS with it', async () => {
    const built = statSync(join(root, 'dist/main.js')).mtimeMs;
    const minted = await run(
      'npm',
      ['run', '-s', 'token', '--', '--tenant', 'demo', '--scope', 'sms:send sms:read', '--ttl', '15m'],
      env,
    );
    expect(minted).toMatchObject({ code: 0, stdout: expect.stringMatching(JWT) });
    // Minting runs the built CLI; it does not compile the project again.
    expect(statSync(join(root, 'dist/main.js')).mtimeMs).toBe(built);
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

  // The first npx run links the package into npx's cache and runs its prepare (the build) once.
  it('mints with `npx smsgate token` (the package bin): one JWT on stdout', async () => {
    const minted = await run('npx', ['smsgate', 'token', '--tenant', 'demo', '--scope', 'sms:read'], env);
    expect(minted).toMatchObject({ code: 0, stdout: expect.stringMatching(JWT) });
    const answer = await request(gatewayUrl)
      .get('/v1/messages')
      .set('Authorization', `Bearer ${minted.stdout.trim()}`);
    expect(answer.status).toBe(200);
  }, 180_000);

  it('mints for a production deployment with the JWT secret and the tenants alone, without the APPKEY', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'smsgate-mint-'));
    const configFile = join(dir, 'production.yaml');
    writeFileSync(configFile, 'mode: production\ntenants:\n  website:\n    scopes: [sms:send]\n');
    const withoutKey = Object.fromEntries(Object.entries(env).filter(([name]) => name !== 'SMSGATE_APPKEY'));
    const minted = await run(
      'npm',
      ['run', '-s', 'token', '--', '--tenant', 'website', '--scope', 'sms:send'],
      { ...withoutKey, SMSGATE_CONFIG: configFile, SMSGATE_JWT_SECRET: TEST_JWT_SECRET },
    );
    expect(minted).toMatchObject({ code: 0, stdout: expect.stringMatching(JWT) });
    expect(jwt.verify(minted.stdout.trim(), TEST_JWT_SECRET, { algorithms: ['HS256'] })).toMatchObject({
      tenant: 'website',
      scope: 'sms:send',
    });
    // The sandbox's demo tenant does not exist in production.
    const refused = await run('npm', ['run', '-s', 'token', '--', '--tenant', 'demo'], {
      ...withoutKey,
      SMSGATE_CONFIG: configFile,
      SMSGATE_JWT_SECRET: TEST_JWT_SECRET,
    });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("token: --tenant: unknown tenant 'demo'");
  }, 60_000);

  it('refuses to mint for an unknown tenant, on stderr with a non-zero exit; npm errors stay plain text', async () => {
    const minted = await run('npm', ['run', 'token', '--', '--tenant', 'nobody'], env);
    expect(minted.code).not.toBe(0);
    expect(minted.stderr).toContain("token: --tenant: unknown tenant 'nobody'");
    expect(minted.stdout).not.toMatch(/eyJ/);
    // npm's own report of the failure is for people, not a JSON blob.
    expect(`${minted.stdout}${minted.stderr}`).not.toMatch(/^\{\s*$/m);
  }, 60_000);

  it('never prints the APPKEY, on stdout or stderr, at debug level', () => {
    expect(output.length).toBeGreaterThan(0);
    expect(output).toContain('POST /v1/messages 201');
    expect(output).not.toContain(TEST_APPKEY);
  });

  it('runs the sandbox standalone with npm run sandbox', async () => {
    const sandboxPort = await freePort();
    const sandbox = spawnIn(root, 'npm', ['run', 'sandbox'], { ...env, SANDBOX_PORT: String(sandboxPort) });
    try {
      const answer = await waitFor(
        () =>
          request(`http://127.0.0.1:${sandboxPort}`)
            .get('/api/v3/account')
            .set('APPKEY', TEST_APPKEY)
            .then(
              (r) => r,
              () => undefined,
            ),
        30_000,
        'the standalone sandbox answering',
      );
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({
        meta: { code: 200, status: 'SUCCESS' },
        data: { sms_balance: expect.any(String) },
      });
    } finally {
      const closed = new Promise((done) => sandbox.once('close', done));
      signalGroup(sandbox, 'SIGTERM');
      await closed;
    }
  }, 60_000);

  it('SIGTERM to the npm start process alone reaches the gateway: it drains, exits and frees the port', async () => {
    expect(await portIsFree(port)).toBe(false);
    const exited = new Promise<void>((done) => server.once('exit', () => done()));
    const closed = new Promise<void>((done) => server.once('close', () => done()));
    server.kill('SIGTERM');
    // npm exits once its child has: the gateway is gone and the port is free.
    await exited;
    expect(await portIsFree(port)).toBe(true);
    // 'close': every holder of the output pipes is gone, so the output is complete.
    await closed;
    expect(output).toMatch(/"signal":"SIGTERM".*"msg":"shutting down"/);
    expect(output).toMatch(/"msg":"stopped"/);
  }, 60_000);
});

describe('npm install without devDependencies (a production install)', () => {
  it('skips the build instead of failing: there is no compiler to run', async () => {
    // The package as a production install sees it: sources, but no node_modules/typescript.
    const dir = mkdtempSync(join(tmpdir(), 'smsgate-prod-install-'));
    cpSync(join(root, 'package.json'), join(dir, 'package.json'));
    cpSync(join(root, 'scripts'), join(dir, 'scripts'), { recursive: true });
    cpSync(join(root, 'tsconfig.json'), join(dir, 'tsconfig.json'));
    cpSync(join(root, 'tsconfig.build.json'), join(dir, 'tsconfig.build.json'));
    mkdirSync(join(dir, 'src'));
    writeFileSync(join(dir, 'src', 'main.ts'), 'export {};\n');
    const prepared = await run('npm', ['run', 'prepare'], { ...process.env }, dir);
    expect(prepared.code).toBe(0);
    expect(prepared.stderr).toMatch(/typescript is not installed/);
  }, 60_000);
});
