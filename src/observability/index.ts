// Logging (pino JSON lines with credential redaction, secret scrubbing and masked phone numbers)
// and Prometheus metrics.
export { createLogger, scrubSecrets, maskPhoneNumbers, type Logger, type LoggerOptions } from './logger';
export { createMetrics, metricsRoutes, type Metrics, type MetricSources } from './metrics';
