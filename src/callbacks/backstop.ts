import { z } from 'zod';
import type { Logger } from '../observability';
import type { UpstreamBudget } from '../scheduler';
import type { UpstreamClient } from '../upstream';
import { UpstreamError } from '../upstream';

/** The budget queue the backstop's provider calls wait in, beside the tenants' (weight 1). */
export const BACKSTOP_QUEUE = '_backstop';

const responsesSchema = z.object({
  data: z
    .object({
      // Live answers carry "" for an empty inbox (docs/provider.md, "What is uncertain").
      responses: z.union([z.array(z.record(z.string(), z.unknown())), z.literal('')]).optional(),
    })
    .optional(),
});

export interface InboundBackstop {
  /** Reads unread replies until none are left (at most `maxRounds` pages), storing and then clearing them. */
  pollOnce(): Promise<{ seen: number }>;
  start(): void;
  stop(): Promise<void>;
}

/**
 * The provider's inbound webhook can miss (our outage, its undocumented retries), and get-responses
 * returns every reply until it is marked read. So on an interval we read them through the upstream
 * budget, hand them to the same intake as the webhook (duplicates are stored once), and only after
 * that has committed mark them read.
 */
export function createInboundBackstop(options: {
  budget: UpstreamBudget;
  upstream: UpstreamClient;
  receiveInbound: (body: unknown) => Promise<unknown>;
  intervalMs: number;
  logger: Logger;
  maxRounds?: number;
}): InboundBackstop {
  const { budget, upstream, receiveInbound, logger } = options;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;

  async function readUnread(): Promise<Record<string, unknown>[]> {
    try {
      const { body } = await budget.run(BACKSTOP_QUEUE, (gate) =>
        upstream.read('get-responses', { page: '1', type: 'sms' }, gate),
      );
      const responses = responsesSchema.safeParse(body);
      const items = responses.success ? responses.data.data?.responses : undefined;
      return Array.isArray(items) ? items : [];
    } catch (error) {
      // The documented empty inbox is an error envelope: NOT_FOUND "No Response are available!".
      if (error instanceof UpstreamError && error.provider?.status === 'NOT_FOUND') return [];
      throw error;
    }
  }

  async function pollOnce(): Promise<{ seen: number }> {
    let seen = 0;
    for (let round = 0; round < (options.maxRounds ?? 10); round += 1) {
      const items = await readUnread();
      if (items.length === 0) break;
      await receiveInbound(items);
      seen += items.length;
      const ids = items
        .map((item) => item.message_id)
        .filter((id) => id !== undefined && id !== null)
        .map(String);
      if (ids.length === 0) break;
      await budget.run(BACKSTOP_QUEUE, (gate) => upstream.markInboundRead(ids, gate));
    }
    if (seen > 0) logger.info({ seen }, 'inbound backstop: read replies from get-responses');
    return { seen };
  }

  return {
    pollOnce,
    start() {
      if (options.intervalMs <= 0) return;
      timer = setInterval(() => {
        running ??= pollOnce()
          .catch((error: unknown) =>
            logger.warn({ err: error }, 'inbound backstop: poll failed; will try again'),
          )
          .finally(() => {
            running = undefined;
          });
      }, options.intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      await running;
    },
  };
}
