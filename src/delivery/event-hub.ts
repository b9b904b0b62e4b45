import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from '../observability';
import { connectRedis, type Redis } from '../redis';
import type { StoredEvent } from '../store';

export type EventListener = (event: StoredEvent) => void;

/** Live fan-out of stored events to this replica's SSE streams, and to other replicas via Redis. */
export interface EventHub {
  /** Called after the events are committed; a stream that misses one replays it from the store. */
  publish(events: StoredEvent[]): void;
  subscribe(tenantId: string, listener: EventListener): () => void;
  close(): Promise<void>;
}

/**
 * Every replica delivers its own events to its own streams directly, and publishes them on one
 * Redis channel for the others (each ignores what it published itself), so a stream gets each event
 * once whichever replica took the callback. Redis being down costs only cross-replica liveness:
 * clients reconnect with Last-Event-ID and the store fills the gap.
 */
export function createEventHub(options: { redisUrl?: string; channel: string; logger: Logger }): EventHub {
  const local = new EventEmitter();
  local.setMaxListeners(0);
  const origin = randomBytes(8).toString('hex');
  const emit = (event: StoredEvent) => local.emit(event.tenantId, event);
  let publisher: Redis | undefined;
  let subscriber: Redis | undefined;

  if (options.redisUrl) {
    const settings = { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 1_000 };
    publisher = connectRedis(options.redisUrl, settings);
    subscriber = connectRedis(options.redisUrl, { maxRetriesPerRequest: null });
    let warned = false;
    const onError = () => {
      if (warned) return;
      warned = true;
      options.logger.warn(
        'event fan-out: Redis unavailable; other replicas catch up by Last-Event-ID replay',
      );
    };
    publisher.on('error', onError);
    subscriber.on('error', onError);
    subscriber.on('ready', () => {
      warned = false;
    });
    void subscriber.subscribe(options.channel).catch(onError);
    subscriber.on('message', (_channel: string, message: string) => {
      try {
        const parsed = JSON.parse(message) as { origin: string; events: StoredEvent[] };
        if (parsed.origin !== origin) parsed.events.forEach(emit);
      } catch {
        options.logger.warn('event fan-out: ignored an unreadable message on the channel');
      }
    });
  }

  return {
    publish(events) {
      if (events.length === 0) return;
      events.forEach(emit);
      publisher?.publish(options.channel, JSON.stringify({ origin, events })).catch(() => undefined);
    },
    subscribe(tenantId, listener) {
      local.on(tenantId, listener);
      return () => local.off(tenantId, listener);
    },
    close() {
      local.removeAllListeners();
      publisher?.disconnect();
      subscriber?.disconnect();
      return Promise.resolve();
    },
  };
}
