import type { Store } from 'express-rate-limit';
import Redis from 'ioredis';
import { RedisStore } from 'rate-limit-redis';

export interface LimiterStores {
  /** A counter store under this key prefix: Redis when configured (shared by replicas), else none (memory). */
  storeFor(prefix: string): Store | undefined;
  close(): void;
}

/**
 * One Redis connection for every express-rate-limit counter of a module. Commands queue while
 * (re)connecting, so start-up does not count as an outage; during an outage each one gives up after
 * 500 ms and the limiter's own policy (passOnStoreError or not) decides.
 */
export function createLimiterStores(redisUrl: string | undefined, keyPrefix: string): LimiterStores {
  const redis = redisUrl ? new Redis(redisUrl, { maxRetriesPerRequest: 1, commandTimeout: 500 }) : undefined;
  redis?.on('error', () => undefined);
  return {
    storeFor(prefix) {
      if (!redis) return undefined;
      return new RedisStore({
        prefix: `${keyPrefix}:${prefix}`,
        sendCommand: (command: string, ...args: string[]) => redis.call(command, ...args) as Promise<number>,
      });
    },
    close: () => redis?.disconnect(),
  };
}
