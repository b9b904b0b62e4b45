import pino, { type DestinationStream, type Logger } from 'pino';
import { SECRET_KEYS } from '../config';

export type { Logger } from 'pino';

export interface LoggerOptions {
  level: string;
  /** Secret values that must never reach a log line, whatever field they hide in (`secretValuesOf(config)`). */
  secrets: string[];
  destination?: DestinationStream;
}

/** Header and field names whose values are credentials: the request's, and the config's secret keys. */
const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.appkey',
  'req.headers.cookie',
  'req.query.ticket',
  'headers.authorization',
  'headers.appkey',
  ...SECRET_KEYS,
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
        streamWrite: (line) => maskPhoneNumbers(scrubSecrets(line, secrets)),
      },
    },
    options.destination ?? pino.destination({ sync: false }),
  );
}

/**
 * A UUID (request ids, ticket ids), matched first so that a run of digits inside one
 * (`12345678-…`, `…-401234567890`) is never taken for a phone number: the id in the log must be
 * the id in the X-Request-Id header.
 */
const UUID_OR_NUMBER =
  /(?<![0-9a-f-])[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![0-9a-f-])|(\+?)(?<!\d)(\d{5,12})(\d{3})(?!\d)/gi;

/**
 * Phone numbers are personal data: in every log line, a number inside a string (`+61412345678`,
 * `61412345678`, `to[0]: '0412345678'`) keeps only its last 3 digits. Bare JSON numbers (times,
 * durations) and UUIDs are left alone; pino's `time` stays an epoch number outside any string.
 */
export function maskPhoneNumbers(line: string): string {
  return line.replace(/"(?:[^"\\]|\\.)*"/g, (literal) =>
    literal.replace(UUID_OR_NUMBER, (match, plus?: string, hidden?: string, last?: string) =>
      hidden === undefined ? match : `${plus}${'*'.repeat(hidden.length)}${last}`,
    ),
  );
}

export function scrubSecrets(text: string, secrets: string[]): string {
  let scrubbed = text;
  for (const secret of secrets) {
    if (scrubbed.includes(secret)) scrubbed = scrubbed.split(secret).join('[REDACTED]');
  }
  return scrubbed;
}
