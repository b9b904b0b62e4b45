// Process entry: load config, start the gateway (and the sandbox in sandbox mode), print how to
// send a first SMS, shut down gracefully on SIGTERM/SIGINT, and end the process on a bug that
// escaped every handler.
import { ConfigError, loadConfig, secretValuesOf } from './config';
import { createLogger, type Logger } from './observability';
import { startServer } from './server';

/** Set once the configuration is known: from then on every line, fatal ones included, is scrubbed of secrets. */
let logger: Logger | undefined;
let dying = false;

/**
 * An exception or rejection nothing handled: the process state is unknown, so we do not carry on.
 * It is logged at fatal (through the logger, so scrubbed of secrets), the log is flushed, and the
 * process exits non-zero for the orchestrator to restart it.
 */
function die(what: string, error: unknown): void {
  if (dying) return;
  dying = true;
  process.exitCode = 1;
  if (!logger) {
    // Before the configuration is loaded no secret is known to scrub: the message alone, no stack.
    process.stderr.write(`smsgate: ${what}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
  logger.fatal({ err: error }, what);
  // A flush that never calls back must not keep a broken process alive.
  setTimeout(() => process.exit(1), 5_000);
  logger.flush(() => process.exit(1));
}
process.on('uncaughtException', (error) => die('uncaught exception', error));
process.on('unhandledRejection', (reason) => die('unhandled promise rejection', reason));

async function main(): Promise<void> {
  const config = loadConfig();
  logger = createLogger({ level: config.log.level, secrets: secretValuesOf(config) });
  const running = await startServer(config, { logger });
  const { url } = running;
  const log = logger;
  const sample =
    `TOKEN=$(npm run -s token -- --tenant demo) && curl -s ${url}/v1/messages ` +
    `-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' ` +
    `-d '{"to":"0412345678","text":"Hello from smsgate"}'`;
  log.info(
    {
      url,
      mode: config.mode,
      sample,
      ...(running.exampleApp ? { exampleApp: running.exampleApp.url } : {}),
      ...(running.identityProvider ? { identityProvider: running.identityProvider.issuer } : {}),
    },
    `smsgate ready on ${url} (${config.mode} mode)`,
  );
  if (config.mode === 'sandbox') {
    process.stderr.write(
      `\nsmsgate is running on ${url} in sandbox mode: the built-in provider simulator answers, no real SMS is sent.\n` +
        `Send a first SMS:\n\n  ${sample}\n\n` +
        `Try the demo contact form: ${url}/demo/contact   API docs: ${url}/docs\n` +
        (running.exampleApp
          ? `Try the cross-origin example app (sign in, send to your own number, watch it delivered): ${running.exampleApp.url}\n`
          : '') +
        '\n',
    );
  }

  // Logs are written asynchronously; flush them before the process ends or the last lines are lost.
  const exit = (code: number) => log.flush(() => process.exit(code));
  const shutdown = (signal: string) => {
    // SIGTERM (an orchestrator) drains first; SIGINT (Ctrl-C in a terminal) stops straight away.
    const drainMs = signal === 'SIGTERM' ? config.shutdown.drainDelayMs : 0;
    const { graceMs } = config.shutdown;
    log.info({ signal, drainMs, graceMs }, 'shutting down');
    // Whatever happens, the process ends within the bound.
    setTimeout(
      () => {
        log.error('shutdown took too long; exiting');
        exit(1);
      },
      drainMs + graceMs + 5_000,
    ).unref();
    running
      .stop({ drainMs, graceMs })
      .then(() => {
        log.info('stopped');
        exit(0);
      })
      .catch((error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        exit(1);
      });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  const message =
    error instanceof ConfigError ? error.message : `smsgate failed to start: ${(error as Error).message}`;
  if (logger) {
    // Start-up failed after the configuration was read (a port in use, a store unreachable): the
    // logger knows the secrets to scrub from the message.
    logger.fatal({ err: error }, message);
    logger.flush(() => process.exit(1));
    return;
  }
  process.stderr.write(`${message}\n`);
  process.exit(1);
});
