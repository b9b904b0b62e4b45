import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock';
import type { Logger } from '../observability';
import { connectRedis } from '../redis';
import { DEFAULT_GRANT_BURST } from './pacer';
import { createLocalSlotSource, type SlotSource } from './slot-source';

/** How often a replica tells Redis it is there, and how long Redis believes it. */
const HEARTBEAT_MS = 100;
const LIVE_TTL_MS = 500;
/**
 * A command that times out on a connection still up means a slow Redis or a busy host, not a
 * lost one: ask again shortly. Only after this long without any answer is the connection dropped
 * and the fallback (with its hold) used.
 */
const STALL_MS = 2_000;
const SLOW_RETRY_MS = 50;

// The sliding log as one atomic script, timed by Redis's own clock (TIME) so that replicas with
// skewed clocks still share one exact window. Same rules as the in-process source: a grant only
// while fewer than `cap` grants are at most `window` ms old, and no sooner than the pacing allows
// (pacer.ts: up to `burst` at once, then one per spacing; `tat` is the Pacer's dueAt); otherwise
// the answer is how long to wait, and a refusal writes nothing. A pause (after a provider 429)
// holds everything.
//
// Replicas whose Redis is gone send on their fallback share (limit / replicas) with no way to
// tell the others. So every call is also a heartbeat, and the shared log admits only
// `limit - share x (replicas - live replicas)`: a replica that has not been heard from for
// LIVE_TTL_MS may be sending on its share, which stays reserved for it. A replica coming back
// first adds its fallback grants of the last window to the log (seed), in the same script that
// marks it live, so its share is never counted twice nor left out.
//
// KEYS: log, pause, tat, live
// ARGV: now ('' = Redis TIME), limit, window, replicas, share, liveTtl, node, member ('' = heartbeat
//       only, take nothing), expireMs, n, burst, then n seed members and n seed ages (ms before now)
const ACQUIRE = `
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local limit, window = tonumber(ARGV[2]), tonumber(ARGV[3])
local replicas, share, liveTtl = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local expire = ARGV[9]
local burst = tonumber(ARGV[11])
local n = tonumber(ARGV[10])
for i = 1, n do
  redis.call('ZADD', KEYS[1], now - tonumber(ARGV[11 + n + i]), ARGV[11 + i])
end
redis.call('ZADD', KEYS[4], now, ARGV[7])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - liveTtl)
redis.call('PEXPIRE', KEYS[4], expire)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window - 1)
if n > 0 then redis.call('PEXPIRE', KEYS[1], expire) end
if ARGV[8] == '' then return 0 end
local cap = limit - share * math.max(0, replicas - redis.call('ZCARD', KEYS[4]))
if cap < 1 then return window end
local spacing = (window + 1) / cap
local ahead = (math.min(burst, cap) - 1) * spacing
local tat = tonumber(redis.call('GET', KEYS[3]) or '-1e300')
-- Held back by a pause or a full log: the allowance does not refill meanwhile (Pacer.hold).
local heldUntil = tonumber(redis.call('GET', KEYS[2]) or '0')
local count = redis.call('ZCARD', KEYS[1])
if now >= heldUntil and count >= cap then
  local entry = redis.call('ZRANGE', KEYS[1], count - cap, count - cap, 'WITHSCORES')
  heldUntil = math.max(now + 1, tonumber(entry[2]) + window + 1)
end
if now < heldUntil then
  if tat < heldUntil + ahead then
    redis.call('SET', KEYS[3], string.format('%.3f', heldUntil + ahead), 'PX', expire)
  end
  return math.ceil(heldUntil - now)
end
local early = tat - ahead - now
if early >= 1 then return math.ceil(early) end
redis.call('ZADD', KEYS[1], now, ARGV[8])
redis.call('PEXPIRE', KEYS[1], expire)
redis.call('SET', KEYS[3], string.format('%.3f', math.max(tat, now) + spacing), 'PX', expire)
return 0
`;

// Extends the pause, never shortens one already longer. ARGV: now ('' = Redis TIME), ms, expireMs
const PAUSE = `
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local untilAt = now + tonumber(ARGV[2])
if tonumber(redis.call('GET', KEYS[1]) or '0') < untilAt then
  redis.call('SET', KEYS[1], string.format('%d', untilAt), 'PX', ARGV[3])
end
return 0
`;

export interface RedisSlotSourceOptions {
  url: string;
  /** Keys are `${prefix}:log`, `:pause`, `:tat` and `:live`; every replica of one account must share it. */
  keyPrefix: string;
  limit: number;
  windowMs: number;
  /**
   * Replicas sharing the account. While Redis cannot be reached each keeps limit / replicas; while
   * fewer than this many are heard from, the shared log holds back the share of each missing one.
   */
  replicas: number;
  clock: Clock;
  logger: Logger;
  /**
   * Whose clock times the shared log: Redis's own (TIME, the default, so replicas with skewed
   * clocks share one exact window) or `clock` (tests drive a manual clock through Redis).
   */
  scriptTime?: 'redis' | 'clock';
  /** Grants that may go at once after a lull, cluster-wide (see Pacer); default DEFAULT_GRANT_BURST. */
  burst?: number;
}

/** The two scripts as ioredis commands: sent by SHA (EVALSHA), not as their whole text on every call. */
interface ScriptCommands {
  smsgateAcquire(...args: (string | number)[]): Promise<unknown>;
  smsgatePause(...args: (string | number)[]): Promise<unknown>;
}

export interface RedisSlotSource extends SlotSource {
  /** Where the last answer came from: the shared log, or this replica's fallback share. */
  mode(): 'redis' | 'fallback';
}

/**
 * The cluster-wide budget. Commands fail fast (no offline queue, short timeout) so a Redis outage
 * never hangs a send: while Redis is unreachable the fallback (a local share of the cap) answers,
 * and Redis takes over again as soon as it answers.
 *
 * Neither side may start empty at a switch. On losing Redis the fallback holds every slot until
 * Redis has stopped counting this replica as live and the grants it made (to any replica) while
 * it did have aged out of the window; on regaining Redis this replica's fallback grants go into the
 * shared log (see ACQUIRE). A Redis that comes back within a window may have restarted empty, so
 * after a connection is lost the shared log too gives nothing until a window has passed. So the
 * account's cap holds through both switches.
 */
export function createRedisSlotSource(options: RedisSlotSourceOptions): RedisSlotSource {
  const { clock, limit, windowMs } = options;
  const share = Math.max(1, Math.floor(limit / options.replicas));
  const burst = options.burst ?? DEFAULT_GRANT_BURST;
  // The fallback shares split the burst as they split the cap: replicas on their fallback cannot
  // see each other, so a full burst each would reach the provider as `replicas` bursts at once.
  const fallback = createLocalSlotSource(share, windowMs, clock, {
    burst: Math.max(1, Math.floor(burst / options.replicas)),
  });
  const byClock = options.scriptTime === 'clock';
  // Keys only need to outlive the window; a manual clock may stand still for a while of real time.
  const expireMs = byClock ? 600_000 : 2 * windowMs + LIVE_TTL_MS;
  const redis = connectRedis(options.url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 500,
    lazyConnect: false,
    // Reconnect within half a second once Redis is back: until then this replica has only its share.
    retryStrategy: (times: number) => Math.min(times * 50, 500),
  });
  redis.on('error', () => undefined); // reported through the outage warning below, not per retry
  // EVALSHA with a fallback to EVAL when Redis does not know the script (after a restart): the
  // 2 kB script is not sent, nor hashed by Redis, on every call.
  redis.defineCommand('smsgateAcquire', { numberOfKeys: 4, lua: ACQUIRE });
  redis.defineCommand('smsgatePause', { numberOfKeys: 1, lua: PAUSE });
  const scripts = redis as unknown as ScriptCommands;
  // `tat` (the pacer's schedule) is a string; the `pace` hash of earlier versions is left to expire.
  const keys = ['log', 'pause', 'tat', 'live'].map((k) => `${options.keyPrefix}:${k}`);
  const node = randomBytes(6).toString('hex');
  let sequence = 0;
  let degraded = false;
  let closed = false;
  // The latest time a command of ours may have run in Redis (as a heartbeat, or admitting someone
  // while this replica counted as live): an answer, or the failure of a command that was sent.
  // From start-up, in case an earlier process of this replica was counted as live.
  let reachedAt = clock.now();
  let answeredAt = clock.now();
  // When an established connection last closed: Redis may have restarted and lost the log then.
  let connectionLostAt = Number.NEGATIVE_INFINITY;
  let connected = false;
  redis.on('ready', () => {
    connected = true;
  });
  redis.on('close', () => {
    if (!connected) return; // a reconnect attempt that failed, not a lost connection
    connected = false;
    connectionLostAt = clock.now();
    reachedAt = Math.max(reachedAt, connectionLostAt);
  });
  const fallbackGrants: { at: number; id: string }[] = [];
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

  /** Runs one script, keeping track of when Redis may last have run a command of ours. */
  async function evaluate(script: keyof ScriptCommands, args: (string | number)[]): Promise<number> {
    const sent = redis.status === 'ready';
    try {
      const answer = Number(await scripts[script](...args));
      reachedAt = Math.max(reachedAt, clock.now());
      answeredAt = clock.now();
      return answer;
    } catch (error) {
      if (sent) reachedAt = Math.max(reachedAt, clock.now());
      throw error;
    }
  }

  /** Takes a slot from the shared log (or only says this replica is live, when `member` is ''). */
  async function acquireShared(member: string): Promise<number> {
    const now = clock.now();
    const seed = degraded ? fallbackGrants.filter((g) => now - g.at <= windowMs) : [];
    const wait = await evaluate('smsgateAcquire', [
      ...keys,
      byClock ? now : '',
      limit,
      windowMs,
      options.replicas,
      share,
      LIVE_TTL_MS,
      node,
      member,
      expireMs,
      seed.length,
      burst,
      ...seed.map((g) => g.id),
      ...seed.map((g) => now - g.at),
    ]);
    onRedisBack();
    return wait;
  }

  async function acquireFallback(): Promise<number> {
    const now = clock.now();
    const holdUntil = reachedAt + LIVE_TTL_MS + windowMs + 1;
    if (now < holdUntil) return holdUntil - now;
    const wait = await fallback.tryAcquire();
    if (wait === 0) {
      fallbackGrants.push({ at: now, id: `${node}-f${sequence++}` });
      while (fallbackGrants.length > 0 && now - fallbackGrants[0]!.at > windowMs) fallbackGrants.shift();
    }
    return wait;
  }

  let cancelHeartbeat: (() => void) | undefined;
  const heartbeat = (): void => {
    if (closed) return;
    cancelHeartbeat = clock.schedule(heartbeat, HEARTBEAT_MS);
    if (redis.status === 'ready') void acquireShared('').catch(() => undefined);
  };
  heartbeat();
  // Back on Redis as soon as it answers, even when no call is waiting.
  redis.on('ready', () => void acquireShared('').catch(() => undefined));

  return {
    async tryAcquire() {
      if (redis.status !== 'ready') await firstConnection;
      const sharedFrom = connectionLostAt + windowMs + 1;
      try {
        // Back within a window of losing the connection: say we are live (and seed), take nothing yet.
        if (clock.now() < sharedFrom) {
          await acquireShared('');
          return Math.max(1, sharedFrom - clock.now());
        }
        return await acquireShared(`${node}-${sequence++}`);
      } catch (error) {
        if (redis.status === 'ready') {
          if (clock.now() - answeredAt < STALL_MS) return SLOW_RETRY_MS;
          redis.disconnect(true); // stalled: treat as lost, and reconnect
        }
        onRedisError(error);
        return acquireFallback();
      }
    },
    async pause(ms) {
      await fallback.pause(ms);
      if (redis.status !== 'ready') await firstConnection;
      const until = Math.ceil(ms);
      await evaluate('smsgatePause', [
        keys[1]!,
        byClock ? clock.now() : '',
        until,
        byClock ? expireMs : until + 1000,
      ]).catch(() => undefined);
    },
    close() {
      closed = true;
      cancelHeartbeat?.();
      redis.disconnect();
      return Promise.resolve();
    },
    mode: () => (degraded ? 'fallback' : 'redis'),
  };
}
