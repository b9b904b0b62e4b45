import type Redis from 'ioredis';
import type { RedisOptions } from 'ioredis';

export type { Redis, RedisOptions };

type RedisClass = typeof Redis;

let driver: RedisClass | undefined;

/**
 * A Redis connection, with ioredis loaded on the first one. Only a cluster (a `redisUrl`) connects
 * to Redis; the embedded default (one node, in-memory limiter) never loads the driver. Together with
 * pg (loaded by openPostgresDatabase), that is ~6 MB less resident memory once started
 * (docs/benchmarks.md). The callers build their clients synchronously (limiter stores, the budget,
 * the event fan-out), hence a synchronous `require` rather than an `import()`.
 */
export function connectRedis(url: string, options: RedisOptions): Redis {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, see above
  driver ??= (require('ioredis') as { default: RedisClass }).default;
  return new driver(url, options);
}
