import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import request from 'supertest';
import type { RunningServer } from '../../src/server';
import {
  TEST_APPKEY,
  TEST_CALLBACK_TOKEN,
  TEST_JWT_SECRET,
  TEST_WEBHOOK_SECRETS,
} from '../support/constants';
import { bearer, startTestGateway, tokenFor } from '../support/gateway';
import { waitFor } from '../support/wait';

// The operator commands of the built CLI (dist/cli.js, as `npx smsgate …` runs it) against a gateway.
const root = resolve(__dirname, '../..');
const cli = join(root, 'dist/cli.js');
const FULL_NUMBER = /(?<![\d*])(?:\+?614\d{8}|04\d{8})(?!\d)/;

function clean(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('SMSGATE')));
  return { ...env, ...extra };
}

function run(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [cli, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

describe('smsgate send, messages, tail, usage and config check', () => {
  let gw: RunningServer;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    const built = spawnSync('npm', ['run', '-s', 'build'], { cwd: root, encoding: 'utf8' });
    if (built.status !== 0) throw new Error(`build failed: ${built.stdout}${built.stderr}`);
    gw = await startTestGateway({ tenants: { alpha: { quota: { segmentsPerDay: 50 } } } });
    env = clean({ SMSGATE_URL: gw.url, SMSGATE_TOKEN: tokenFor('ops', { scope: 'admin' }) });
  }, 180_000);
  afterAll(() => gw.stop());

  it('send: one SMS with the tenant token; messages finds it by its last digits, masked', async () => {
    const sent = await run(['send', '--to', '0412555123', '--text', 'from the CLI', '--reference', 'cli-1'], {
      ...env,
      SMSGATE_TOKEN: tokenFor('alpha'),
    });
    expect(sent).toMatchObject({ code: 0, stderr: '' });
    expect(sent.stdout).toMatch(/^\S+ {2}\+61412555123 {2}sent\n$/);

    const found = await run(['messages', '--last', '5123'], env);
    expect(found.code).toBe(0);
    expect(found.stdout).toMatch(/alpha\s+\+\*{8}123\s+sent\s+\S+\s+cli-1\n$/);
    expect(found.stdout).not.toMatch(FULL_NUMBER);
    const json = await run(['messages', '--tenant', 'alpha', '--reference', 'cli-1', '--json'], env);
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({ to: '+********123', reference: 'cli-1' }),
    ]);
    const none = await run(['messages', '--last', '999999'], env);
    expect(none.stdout).toBe('no message matches\n');
  });

  it('usage: every tenant for an admin token, refusals on stderr with a non-zero exit', async () => {
    const usage = await run(['usage'], env);
    expect(usage.code).toBe(0);
    expect(usage.stdout).toMatch(/^alpha\s+requests \d+\/300 per 60s {2}segmentsPerDay 1\/50$/m);
    expect(usage.stdout).toMatch(/^beta\s+requests/m);
    const noToken = await run(['usage'], clean({ SMSGATE_URL: gw.url }));
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toContain('usage: a token is needed: --token or SMSGATE_TOKEN');
    const notAdmin = await run(['messages'], { ...env, SMSGATE_TOKEN: tokenFor('alpha') });
    expect(notAdmin.code).toBe(1);
    expect(notAdmin.stderr).toMatch(/^messages: 403 FORBIDDEN: /);
  });

  it('tail: prints every tenant’s events as they happen, numbers masked', async () => {
    const child = spawn(process.execPath, [cli, 'tail'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    try {
      // A send and its delivery report make a message.status event; repeated until the stream,
      // opened by the child process, has seen one (an event before it subscribed is not replayed).
      await waitFor(
        async () => {
          const sent = await request(gw.url)
            .post('/v1/messages')
            .set(bearer(tokenFor('beta')))
            .send({ to: '0412555777', text: 'x' });
          const detail = await request(gw.url)
            .get(`/v1/messages/${sent.body.data.messages[0].id}`)
            .set(bearer(tokenFor('beta')));
          await request(gw.url)
            .post(`/v1/callbacks/cellcast/${TEST_CALLBACK_TOKEN}/dlr`)
            .send([{ message_id: detail.body.data.providerMessageId, status: 'Delivered' }]);
          await new Promise((resolve) => setImmediate(resolve));
          return out.includes('message.status');
        },
        20_000,
        `an event line (stdout: ${out}, stderr: ${err})`,
      );
      expect(out).toMatch(/beta\s+message\.status\s+delivered {2}\+\*{8}777/);
      expect(out).not.toMatch(FULL_NUMBER);
    } finally {
      child.kill('SIGINT');
      await new Promise((done) => child.once('close', done));
    }
  });

  it('config check: validates a file and prints it with every secret masked; an invalid one names the key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'smsgate-check-'));
    const file = join(dir, 'production.yaml');
    writeFileSync(
      file,
      [
        'mode: production',
        'tenants:',
        '  website:',
        '    scopes: [sms:send]',
        '    webhook:',
        '      url: https://hooks.example.com/sms',
        `      secret: ${TEST_WEBHOOK_SECRETS.alpha}`,
        'redis:',
        '  url: redis://:s3cret-redis-pass@redis.internal:6379',
        'callbacks:',
        `  tokens: [${TEST_CALLBACK_TOKEN}]`,
      ].join('\n'),
    );
    const checked = await run(
      ['config', 'check', file],
      clean({ SMSGATE_APPKEY: TEST_APPKEY, SMSGATE_JWT_SECRET: TEST_JWT_SECRET }),
    );
    expect(checked).toMatchObject({ code: 0, stderr: '' });
    expect(checked.stdout).toContain(`# smsgate config check: ${file} is valid (production mode, 1 tenants)`);
    expect(checked.stdout).toMatch(/appKey: "?\[secret\]"?/);
    expect(checked.stdout).toContain('url: redis://:[secret]@redis.internal:6379');
    expect(checked.stdout).toContain('url: https://hooks.example.com/sms');
    for (const secret of [
      TEST_APPKEY,
      TEST_JWT_SECRET,
      TEST_WEBHOOK_SECRETS.alpha,
      TEST_CALLBACK_TOKEN,
      's3cret-redis-pass',
    ]) {
      expect(checked.stdout).not.toContain(secret);
    }
    writeFileSync(file, 'mode: production\ntenants:\n  website:\n    scopes: [sms:shout]\n');
    const invalid = await run(
      ['config', 'check', file],
      clean({ SMSGATE_APPKEY: TEST_APPKEY, SMSGATE_JWT_SECRET: TEST_JWT_SECRET }),
    );
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('tenants.website.scopes.0');
    expect(invalid.stdout).toBe('');
    // A form the gateway would refuse at start-up (a landline for a tenant of mobiles) is refused here too.
    writeFileSync(
      file,
      [
        'tenants:',
        '  website:',
        '    scopes: [sms:send]',
        'forms:',
        '  contact:',
        '    tenant: website',
        "    recipients: ['0298765432']",
        '    template: Hello',
        "    allowedOrigins: ['https://www.example.com']",
        '    captcha: { provider: none }',
      ].join('\n'),
    );
    const unservable = await run(['config', 'check', file], clean({}));
    expect(unservable.code).toBe(1);
    expect(unservable.stderr).toContain("forms.contact.recipients[0]: '0298765432' is a fixed_line number");
    expect(unservable.stdout).toBe('');
  });
});
