import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

export interface LoggerOptions {
  level: string;
  /** Secret values that must never reach a log line, whatever field they hide in. */
  secrets: string[];
  destination?: DestinationStream;
}

/** Header and field names whose values are credentials. */
const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.appkey',
  'req.headers.cookie',
  'req.query.ticket',
  'headers.authorization',
  'headers.appkey',
  'appKey',
  'jwtSecret',
  'token',
];

/**
 * JSON logs with two layers of protection: known credential fields are redacted by path, and
 * every serialised line is scrubbed of the configured secret values before it is written, so a
 * secret that slips into a message or an error text still never leaves the process.
 */
export function createLogger(options: LoggerOptions): Logger {
  const secrets = options.secrets.filter((secret) => secret.length >= 8);
  return pino(
    {
      level: options.level,
      base: { service: 'smsgate' },
      redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' },
      hooks: {
        streamWrite: (line) => scrubSecrets(line, secrets),
      },
    },
    options.destination ?? pino.destination({ sync: false }),
  );
}

export function scrubSecrets(text: string, secrets: string[]): string {
  let scrubbed = text;
  for (const secret of secrets) {
    if (scrubbed.includes(secret)) scrubbed = scrubbed.split(secret).join('[REDACTED]');
  }
  return scrubbed;
}
