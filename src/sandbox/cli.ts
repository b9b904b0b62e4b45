// `npm run sandbox`: the provider simulator on its own, for pointing a gateway (or curl) at it.
// Environment: SANDBOX_PORT (default 4010), SANDBOX_HOST (127.0.0.1), SMSGATE_APPKEY (the key it
// accepts; generated when unset), SANDBOX_CALLS_PER_SECOND (15; 0 lifts the cap),
// SANDBOX_DLR_URL / SANDBOX_INBOUND_URL (callback targets), SANDBOX_DLR_DELAY_MS (2000).
import { randomBytes } from 'node:crypto';
import { createSandbox } from './sandbox';

async function main(): Promise<void> {
  const env = process.env;
  const generated = !env.SMSGATE_APPKEY;
  const appKey = env.SMSGATE_APPKEY ?? `sandbox-${randomBytes(18).toString('hex')}`;
  const limit = Number(env.SANDBOX_CALLS_PER_SECOND ?? 15);
  const sandbox = createSandbox({
    appKeys: [appKey],
    callsPerSecond: limit > 0 ? limit : Infinity,
    pageSize: 25,
    dlrDelayMs: Number(env.SANDBOX_DLR_DELAY_MS ?? 2000),
    ...(env.SANDBOX_DLR_URL ? { dlrCallbackUrl: env.SANDBOX_DLR_URL } : {}),
    ...(env.SANDBOX_INBOUND_URL ? { inboundCallbackUrl: env.SANDBOX_INBOUND_URL } : {}),
  });
  await sandbox.start(Number(env.SANDBOX_PORT ?? 4010), env.SANDBOX_HOST ?? '127.0.0.1');
  process.stdout.write(
    `${JSON.stringify({ sandbox: sandbox.apiUrl, callsPerSecond: String(limit > 0 ? limit : 'unlimited') })}\n`,
  );
  if (generated) {
    // A generated sandbox key is a throwaway; it is shown once so the caller can use it.
    process.stderr.write(`sandbox APPKEY (generated; set SMSGATE_APPKEY to choose one): ${appKey}\n`);
  }
  const stop = () => void sandbox.stop().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`sandbox failed to start: ${(error as Error).message}\n`);
  process.exit(1);
});
