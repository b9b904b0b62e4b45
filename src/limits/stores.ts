import { createHash } from 'node:crypto';
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
        sendCommand: (command: string, ...args: string[]) => sendCommand(redis, command, args),
      });
    },
    close: () => redis?.disconnect(),
  };
}

/**
 * rate-limit-redis loads its Lua scripts once, when the limiter is created, and keeps that promise:
 * loaded while Redis was down, it stays rejected and every later count fails, even once Redis is
 * back. Redis names a script by the SHA-1 of its text, so a failed SCRIPT LOAD is answered with that
 * name: EVALSHA then fails like any command while Redis is down, and once it is back either finds
 * the script or gets NOSCRIPT, on which the store loads it again.
 */
async function sendCommand(redis: Redis, command: string, args: string[]): Promise<number | string> {
  try {
    return (await redis.call(command, ...args)) as number | string;
  } catch (error) {
    const script =
      command.toUpperCase() === 'SCRIPT' && args[0]?.toUpperCase() === 'LOAD' ? args[1] : undefined;
    if (script === undefined) throw error;
    return createHash('sha1').update(script).digest('hex');
  }
}
