import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TEST_APPKEY } from '../support/constants';
import { freePort } from '../support/ports';
import { cleanEnv, startGatewayProcess } from '../support/processes';

// A bug that escapes every handler leaves the process in an unknown state: the entry logs it at
// fatal (scrubbed like every line), flushes the log and exits non-zero for the orchestrator to restart.
describe.each(['rejection', 'exception'])('an unhandled %s in the running gateway', (kind) => {
  it('is logged at fatal without the secret it carried, and the process exits non-zero', async () => {
    const [port, sandboxPort] = [await freePort(), await freePort()];
    const gateway = await startGatewayProcess(
      cleanEnv({
        NODE_OPTIONS: `--require ${resolve(__dirname, '../support/fault-injector.js')}`,
        INJECT_FAULT: kind,
        PORT: String(port),
        HOST: '127.0.0.1',
        SMSGATE_SQLITE_FILE: join(mkdtempSync(join(tmpdir(), 'smsgate-fatal-')), 'smsgate.db'),
        SMSGATE_APPKEY: TEST_APPKEY,
        SMSGATE__sandbox__port: String(sandboxPort),
        SMSGATE__inbound__pollIntervalMs: '0',
        LOG_LEVEL: 'info',
      }),
    );
    try {
      const exited = new Promise<number | null>((done) => gateway.child.once('exit', (code) => done(code)));
      // Output still buffered in the pipes when the process exits arrives before 'close'.
      const closed = new Promise<void>((done) => gateway.child.once('close', () => done()));
      gateway.child.kill('SIGUSR2');
      const code = await exited;
      await closed;
      const output = gateway.output();
      expect(code).not.toBe(0);
      expect(code).not.toBeNull();
      expect(output).not.toContain(TEST_APPKEY);
      const fatal = output
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { level: number; msg: string; err?: { message?: string } })
        .find((entry) => entry.level === 60);
      expect(fatal).toMatchObject({
        msg: kind === 'rejection' ? 'unhandled promise rejection' : 'uncaught exception',
        err: { message: 'injected fault; the key was [REDACTED]' },
      });
    } finally {
      await gateway.kill();
    }
  }, 60_000);
});
