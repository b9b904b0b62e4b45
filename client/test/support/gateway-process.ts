import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import { stringify } from 'yaml';
import { TEST_APPKEY, TEST_JWT_SECRET } from '../../../test/support/constants';
import { freePort } from '../../../test/support/ports';
import { cleanEnv, startGatewayProcess, type GatewayProcess } from '../../../test/support/processes';

export interface RunningGatewayProcess {
  url: string;
  /** The provider sandbox inside that process (its /_sandbox/ routes set faults and show calls). */
  sandboxUrl: string;
  process: GatewayProcess;
  stop(): Promise<void>;
}

/**
 * smsgate as a separate process (the build test/support/global-setup.js made, started as
 * `npm start` starts it), in sandbox mode on loopback with its own SQLite file: the client talks
 * to it over real HTTP only, as an app would.
 */
export async function startGatewayForClient(
  config: Record<string, unknown> = {},
): Promise<RunningGatewayProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'smsgate-client-'));
  const [port, sandboxPort] = [await freePort(), await freePort()];
  const file = join(dir, 'config.yaml');
  writeFileSync(
    file,
    stringify({
      mode: 'sandbox',
      http: { port, host: '127.0.0.1' },
      store: { sqliteFile: join(dir, 'smsgate.db') },
      sandbox: { port: sandboxPort, dlrDelayMs: 50 },
      log: { level: 'info' },
      ...config,
    }),
  );
  const child = await startGatewayProcess(
    cleanEnv({ SMSGATE_CONFIG: file, SMSGATE_JWT_SECRET: TEST_JWT_SECRET, SMSGATE_APPKEY: TEST_APPKEY }),
  );
  return {
    url: `http://127.0.0.1:${port}`,
    sandboxUrl: `http://127.0.0.1:${sandboxPort}`,
    process: child,
    stop: () => child.kill(),
  };
}

/** An HS256 token of the gateway's secret, as `npm run token` mints. */
export function clientToken(
  tenant: string,
  scope = 'sms:send sms:read',
  extra: Record<string, unknown> = {},
): string {
  return jwt.sign({ tenant, scope, ...extra }, TEST_JWT_SECRET, { algorithm: 'HS256', expiresIn: 300 });
}
