// Connections to Redis, which a cluster of replicas shares (limiter counters, the account's budget,
// the event fan-out). The driver is loaded only when a connection is made.
export { connectRedis, type Redis, type RedisOptions } from './connect';
