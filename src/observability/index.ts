// Logging: pino JSON lines with credential redaction and secret scrubbing.
export { createLogger, scrubSecrets, maskPhoneNumbers, type Logger, type LoggerOptions } from './logger';
