import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TEST_APPKEY, TEST_CALLBACK_TOKEN, TEST_JWT_SECRET } from './constants';
import { freePort } from './ports';

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

/**
 * `count` gateway replicas as real processes: production mode, one PostgreSQL (`databaseUrl`) and
 * the local Redis, in front of `upstreamUrl`, with the test secrets and `config` (plus
 * `cluster.replicas`) in a config file of their own. If one does not start, those already started
 * are stopped.
 */
export async function startReplicas(
  count: number,
  options: { config: Record<string, unknown>; upstreamUrl: string; databaseUrl: string },
): Promise<{ gateways: GatewayProcess[]; urls: string[] }> {
  const configFile = join(mkdtempSync(join(tmpdir(), 'smsgate-replicas-')), 'cluster.yaml');
  writeFileSync(configFile, JSON.stringify({ ...options.config, cluster: { replicas: count } }));
  const gateways: GatewayProcess[] = [];
  const urls: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const port = await freePort();
      const env = cleanEnv({
        SMSGATE_CONFIG: configFile,
        SMSGATE_MODE: 'production',
        SMSGATE_APPKEY: TEST_APPKEY,
        SMSGATE_JWT_SECRET: TEST_JWT_SECRET,
        SMSGATE_CALLBACK_TOKEN: TEST_CALLBACK_TOKEN,
        SMSGATE_UPSTREAM_URL: options.upstreamUrl,
        DATABASE_URL: options.databaseUrl,
        REDIS_URL: 'redis://127.0.0.1:6379',
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
      });
      gateways.push(await startGatewayProcess(env));
      urls.push(`http://127.0.0.1:${port}`);
    }
  } catch (error) {
    await Promise.all(gateways.map((g) => g.kill()));
    throw error;
  }
  return { gateways, urls };
}
