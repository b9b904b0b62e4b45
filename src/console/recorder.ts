import type { Clock } from '../clock';
import type { Logger } from '../observability';
import { minuteBucket, type CompactionResult, type RollupIncrement, type RollupRepository } from '../store';

/** The account as the console's live panel shows it: one entry per second, the last 5 minutes. */
export interface LiveSecond {
  /** The second's start, epoch ms. */
  at: number;
  providerCalls: number;
  provider429: number;
  /** The longest a send waited for its provider slot, among those admitted in this second. */
  maxWaitMs: number;
  /** Sends waiting for a slot, as last seen in this second. */
  queueDepth: number;
}

export const LIVE_WINDOW_SEC = 300;
/** The account's own counters (provider calls, 429s) are kept under this tenant id. */
export const ACCOUNT = '*';

export interface ConsoleRecorder {
  /** Adds to a tenant's counter for the current minute. */
  count(tenantId: string, metric: string, n?: number): void;
  /** A provider call ended (`outcome` as the upstream client reports it: `http_429` is a 429). */
  providerCall(outcome: string): void;
  /** A send got its provider slot after waiting `waitedMs`. */
  admitted(tenantId: string, waitedMs: number): void;
  /** The last 5 minutes, oldest first, one entry per second (seconds with nothing are zeros). */
  live(): LiveSecond[];
  /** Writes the counters gathered since the last flush. */
  flush(): Promise<void>;
  /** Folds old minute rows into hours and prunes old hours, if an hour has passed since it last did. */
  maintain(force?: boolean): Promise<CompactionResult | undefined>;
  start(): void;
  stop(): Promise<void>;
}

export interface RecorderOptions {
  rollups: RollupRepository;
  clock: Clock;
  logger: Logger;
  queueDepth: () => number;
  flushIntervalMs: number;
  minuteRetentionHours: number;
  hourRetentionDays: number;
}

const HOUR_MS = 3_600_000;

/**
 * Gathers the console's counters in memory and adds them to the store every `flushIntervalMs`
 * (several replicas add to the same rows), and keeps the last 5 minutes of provider calls per second
 * in memory for the live chart (this replica's own calls).
 */
export function createConsoleRecorder(options: RecorderOptions): ConsoleRecorder {
  const { rollups, clock, logger } = options;
  let pending = new Map<string, RollupIncrement>();
  const seconds = new Map<number, LiveSecond>();
  let timer: NodeJS.Timeout | undefined;
  let sampler: NodeJS.Timeout | undefined;
  let lastCompaction = Number.NEGATIVE_INFINITY;
  let flushing: Promise<void> = Promise.resolve();

  const secondOf = (now: number): LiveSecond => {
    const at = Math.floor(now / 1000) * 1000;
    let entry = seconds.get(at);
    if (!entry) {
      entry = { at, providerCalls: 0, provider429: 0, maxWaitMs: 0, queueDepth: options.queueDepth() };
      seconds.set(at, entry);
      for (const key of seconds.keys()) if (key <= at - LIVE_WINDOW_SEC * 1000) seconds.delete(key);
    }
    return entry;
  };

  const count = (tenantId: string, metric: string, n = 1) => {
    const minute = minuteBucket(clock.now());
    const key = `${tenantId}\u0000${minute}\u0000${metric}`;
    const inc = pending.get(key);
    if (inc) inc.value += n;
    else pending.set(key, { tenantId, metric, minute, value: n });
  };

  const flush = () => {
    flushing = flushing.then(async () => {
      if (pending.size === 0) return;
      const batch = [...pending.values()];
      pending = new Map();
      try {
        await rollups.add(batch);
      } catch (error) {
        // Counters are best effort: a store hiccup costs a few minutes of chart, never a request.
        logger.warn({ err: error, counters: batch.length }, 'console: could not store usage counters');
      }
    });
    return flushing;
  };

  const maintain = async (force = false) => {
    const now = clock.now();
    if (!force && now - lastCompaction < HOUR_MS) return undefined;
    lastCompaction = now;
    const minutesBefore = minuteBucket(now - options.minuteRetentionHours * HOUR_MS);
    const hoursBefore = minuteBucket(now - options.hourRetentionDays * 24 * HOUR_MS);
    return rollups.compact(minutesBefore, hoursBefore);
  };

  return {
    count,
    providerCall(outcome) {
      const second = secondOf(clock.now());
      second.providerCalls += 1;
      second.queueDepth = options.queueDepth();
      count(ACCOUNT, 'provider_calls');
      if (outcome === 'http_429') {
        second.provider429 += 1;
        count(ACCOUNT, 'provider_429');
      }
    },
    admitted(_tenantId, waitedMs) {
      const second = secondOf(clock.now());
      second.maxWaitMs = Math.max(second.maxWaitMs, waitedMs);
      second.queueDepth = options.queueDepth();
    },
    live() {
      const now = Math.floor(clock.now() / 1000) * 1000;
      secondOf(now).queueDepth = options.queueDepth();
      const out: LiveSecond[] = [];
      for (let at = now - (LIVE_WINDOW_SEC - 1) * 1000; at <= now; at += 1000) {
        out.push(seconds.get(at) ?? { at, providerCalls: 0, provider429: 0, maxWaitMs: 0, queueDepth: 0 });
      }
      return out;
    },
    flush,
    maintain,
    start() {
      // The queue depth is sampled every second for the live chart, whether or not calls are made.
      sampler = setInterval(() => {
        secondOf(clock.now()).queueDepth = options.queueDepth();
      }, 1000);
      sampler.unref();
      timer = setInterval(() => {
        void flush().then(() =>
          maintain().catch((error: unknown) =>
            logger.warn({ err: error }, 'console: could not compact usage counters'),
          ),
        );
      }, options.flushIntervalMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      clearInterval(sampler);
      timer = sampler = undefined;
      await flush();
    },
  };
}
