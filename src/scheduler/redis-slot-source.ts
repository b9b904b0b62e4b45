import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import type { Logger } from '../observability';
import type { SlotSource } from './slot-source';

// The sliding log as one atomic script, timed by Redis's own clock (TIME) so that replicas with
// skewed clocks still share one exact window. Same rule as SlidingLog: a call is admitted only
// when fewer than `limit` admissions are at most `window` ms old; otherwise the answer is how
// long until the oldest one ages out. A pause key (set after a provider 429) holds everything.
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return paused end
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window - 1)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window * 2)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window + 1 - now)
`;

// Extends the pause, never shortens one already longer.
const PAUSE = `
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 0
`;

export interface RedisSlotSourceOptions {
  url: string;
  /** Keys are `${prefix}:log` and `${prefix}:pause`; every replica of one account must share it. */
  keyPrefix: string;
  limit: number;
  windowMs: number;
  /** Used while Redis cannot be reached; should hold limit / replicas so the account cap still holds. */
  fallback: SlotSource;
  logger: Logger;
}

/**
 * The cluster-wide budget. Commands fail fast (no offline queue, short timeout) so a Redis outage
 * never hangs a send: while Redis is unreachable the fallback (a local share of the cap) answers,
 * and Redis takes over again as soon as it answers.
 */
export function createRedisSlotSource(options: RedisSlotSourceOptions): SlotSource {
  const redis = new Redis(options.url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 500,
    lazyConnect: false,
  });
  redis.on('error', () => undefined); // reported through the outage warning below, not per retry
  const logKey = `${options.keyPrefix}:log`;
  const pauseKey = `${options.keyPrefix}:pause`;
  const node = randomBytes(6).toString('hex');
  let sequence = 0;
  let degraded = false;
  // At start-up, wait (briefly) for the first connection rather than count it as an outage.
  const firstConnection = new Promise<void>((resolve) => {
    redis.once('ready', () => resolve());
    setTimeout(resolve, 2_000).unref();
  });

  function onRedisError(error: unknown): void {
    if (degraded) return;
    degraded = true;
    options.logger.warn(
      { err: error, event: 'budget.redis_unavailable' },
      'upstream budget: Redis unavailable, using the local fallback share of the cap',
    );
  }

  function onRedisBack(): void {
    if (!degraded) return;
    degraded = false;
    options.logger.warn(
      { event: 'budget.redis_recovered' },
      'upstream budget: Redis is back, shared budget restored',
    );
  }

  return {
    async tryAcquire() {
      if (redis.status !== 'ready') await firstConnection;
      try {
        const wait = Number(
          await redis.eval(
            ACQUIRE,
            2,
            logKey,
            pauseKey,
            options.limit,
            options.windowMs,
            `${node}-${sequence++}`,
          ),
        );
        onRedisBack();
        return wait;
      } catch (error) {
        onRedisError(error);
        return options.fallback.tryAcquire();
      }
    },
    async pause(ms) {
      await options.fallback.pause(ms);
      if (redis.status !== 'ready') await firstConnection;
      try {
        await redis.eval(PAUSE, 1, pauseKey, Math.ceil(ms));
      } catch (error) {
        onRedisError(error);
      }
    },
    close() {
      redis.disconnect();
      return Promise.resolve();
    },
  };
}
