import type {
  ClientRateLimitInfo,
  IncrementResponse,
  Logger as RateLimitLogger,
  Store,
} from 'express-rate-limit';
import { RedisStore, type Options as RedisStoreOptions } from 'rate-limit-redis';
import type { Logger } from '../observability';
import { connectRedis } from '../redis';

export interface LimiterStores {
  /** A counter store under this key prefix: Redis when configured (shared by replicas), else none (memory). */
  storeFor(prefix: string): Store | undefined;
  /**
   * For express-rate-limit's `logger` option: its store errors (which it would print to stderr
   * with a stack trace on every request) become one warning line per outage in our log.
   */
  rateLimitLogger: RateLimitLogger;
  /** Reports a failed read or write of the counters (one warning per outage). */
  storeFailed(error: unknown): void;
  /** A property, not a method: the rate limit hands it on as its own close. */
  close: () => void;
}

export interface LimiterStoresOptions {
  redisUrl: string | undefined;
  keyPrefix: string;
  logger: Logger;
  /** What these counters limit and what happens while Redis is down, for the log line. */
  purpose: string;
  whileDown: string;
}

/**
 * One Redis connection for every express-rate-limit counter of a module. Commands queue while
 * (re)connecting, so start-up does not count as an outage; during an outage each one gives up after
 * 500 ms and the limiter's own policy (passOnStoreError or not) decides. An outage is logged once:
 * from the first failure after a success until the next success.
 */
export function createLimiterStores(options: LimiterStoresOptions): LimiterStores {
  const { redisUrl, keyPrefix, logger } = options;
  const redis = redisUrl
    ? connectRedis(redisUrl, { maxRetriesPerRequest: 1, commandTimeout: 500 })
    : undefined;
  redis?.on('error', () => undefined);
  let failing = false;
  const storeFailed = (error: unknown) => {
    if (failing) return;
    failing = true;
    logger.warn(
      { event: 'rate_limit.store_unavailable', limits: options.purpose, reason: firstLine(error) },
      `${options.purpose}: counters in Redis unreachable; ${options.whileDown} until Redis answers again`,
    );
  };
  const recovered = () => {
    if (!failing) return;
    failing = false;
    logger.info(
      { event: 'rate_limit.store_available', limits: options.purpose },
      `${options.purpose}: counters in Redis reachable again`,
    );
  };
  return {
    storeFor(prefix) {
      if (!redis) return undefined;
      return new RecoveringRedisStore(
        {
          prefix: `${keyPrefix}:${prefix}`,
          sendCommand: (command: string, ...args: string[]) =>
            redis.call(command, ...args) as Promise<number>,
        },
        recovered,
      );
    },
    rateLimitLogger: {
      error(error, message) {
        // Store errors, from init, increment or decrement; anything else is a misconfiguration.
        if (message?.includes('store')) storeFailed(error);
        else logger.error({ event: 'rate_limit.error', reason: firstLine(error) }, message ?? 'rate limit');
      },
      warn(error, message) {
        logger.warn({ event: 'rate_limit.warning', reason: firstLine(error) }, message ?? 'rate limit');
      },
    },
    storeFailed,
    close: () => redis?.disconnect(),
  };
}

/** The error's message alone: a stack trace is many lines, and says nothing about Redis being down. */
function firstLine(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.split('\n', 1)[0]!.slice(0, 200);
}

/**
 * rate-limit-redis loads its two Lua scripts once, in init(), and keeps the promise: when Redis is
 * unreachable or slow at that moment (start-up blocks the event loop for a while), the rejected
 * promise is kept for good and every later count fails — the limit stays off until a restart. This
 * store loads a script again on the next call after such a failure, and reports each success.
 */
class RecoveringRedisStore extends RedisStore {
  constructor(
    options: RedisStoreOptions,
    private readonly onSuccess: () => void,
  ) {
    super(options);
  }

  override async increment(key: string): Promise<IncrementResponse> {
    this.incrementScriptSha = this.incrementScriptSha.catch(() => this.loadIncrementScript());
    const result = await super.increment(key);
    this.onSuccess();
    return result;
  }

  override async get(key: string): Promise<ClientRateLimitInfo | undefined> {
    this.getScriptSha = this.getScriptSha.catch(() => this.loadGetScript());
    const result = await super.get(key);
    this.onSuccess();
    return result;
  }
}
