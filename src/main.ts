// Process entry: load config, start the gateway (and the sandbox in sandbox mode), print how to
// send a first SMS, and shut down gracefully on SIGTERM/SIGINT.
import { ConfigError, loadConfig } from './config';
import { startServer } from './server';

async function main(): Promise<void> {
  const config = loadConfig();
  const running = await startServer(config);
  const { logger, url } = running;
  const sample =
    `TOKEN=$(npm run -s token -- --tenant demo) && curl -s ${url}/v1/messages ` +
    `-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' ` +
    `-d '{"to":"0412345678","text":"Hello from smsgate"}'`;
  logger.info({ url, mode: config.mode, sample }, `smsgate ready on ${url} (${config.mode} mode)`);
  if (config.mode === 'sandbox') {
    process.stderr.write(
      `\nsmsgate is running on ${url} in sandbox mode: the built-in provider simulator answers, no real SMS is sent.\n` +
        `Send a first SMS:\n\n  ${sample}\n\n` +
        `Try the demo contact form: ${url}/demo/contact   API docs: ${url}/docs\n\n`,
    );
  }

  // Logs are written asynchronously; flush them before the process ends or the last lines are lost.
  const exit = (code: number) => logger.flush(() => process.exit(code));
  const shutdown = (signal: string) => {
    // SIGTERM (an orchestrator) drains first; SIGINT (Ctrl-C in a terminal) stops straight away.
    const drainMs = signal === 'SIGTERM' ? config.shutdown.drainDelayMs : 0;
    const { graceMs } = config.shutdown;
    logger.info({ signal, drainMs, graceMs }, 'shutting down');
    // Whatever happens, the process ends within the bound.
    setTimeout(
      () => {
        logger.error('shutdown took too long; exiting');
        exit(1);
      },
      drainMs + graceMs + 5_000,
    ).unref();
    running
      .stop({ drainMs, graceMs })
      .then(() => {
        logger.info('stopped');
        exit(0);
      })
      .catch((error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        exit(1);
      });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  const message =
    error instanceof ConfigError ? error.message : `smsgate failed to start: ${(error as Error).message}`;
  process.stderr.write(`${message}\n`);
  process.exit(1);
});
