import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';

// Gateways as real processes, from the build test/support/global-setup.js made.
const root = resolve(__dirname, '../..');
const entry = join(root, '.build-test', 'main.js');

export interface GatewayProcess {
  child: ChildProcess;
  output(): string;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
}

export function startGatewayProcess(env: NodeJS.ProcessEnv): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [entry], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const handle: GatewayProcess = {
    child,
    output: () => output,
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGKILL');
      await exited;
    },
  };
  return new Promise((ready, fail) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`the gateway did not start:\n${output}`));
    }, 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      // The JSON ready line (info), or the sandbox-mode banner on stderr (when LOG_LEVEL is above info).
      if (output.includes('smsgate ready on') || output.includes('smsgate is running on')) {
        clearTimeout(timer);
        ready(handle);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`the gateway exited with ${code}:\n${output}`));
    });
  });
}

/** The environment of a gateway process: the test's, minus anything SMSGATE_* it may carry. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('SMSGATE') && name !== 'PORT'),
  );
  return { ...clean, ...extra };
}
