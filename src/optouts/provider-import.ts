import type { CountryCode } from 'libphonenumber-js/max';
import { z } from 'zod';
import type { Clock } from '../clock';
import type { Logger } from '../observability';
import { parsePhoneNumberFromString } from '../messages';
import type { UpstreamBudget } from '../scheduler';
import { ACCOUNT_SCOPE, type StoredEvent, type SuppressionRepository } from '../store';
import { UpstreamError, type UpstreamClient } from '../upstream';

/** The budget queue the opt-out import's provider calls wait in (weight 1, beside the tenants'). */
export const OPTOUT_IMPORT_QUEUE = '_optouts';

const optOutPageSchema = z.object({
  data: z
    .object({
      page: z.object({ count: z.coerce.number().int().nonnegative() }).partial().optional(),
      // An empty list may come as "" (as get-responses does).
      responses: z
        .union([z.array(z.object({ number: z.union([z.string(), z.number()]) }).loose()), z.literal('')])
        .optional(),
    })
    .optional(),
});

export interface OptOutImporter {
  /** Reads every page of the provider's opt-out list and stores new numbers (account-wide). */
  importOnce(): Promise<{ read: number; added: number; pages: number }>;
  start(): void;
  stop(): Promise<void>;
}

/**
 * The provider keeps its own opt-out list (get-optout: numbers that answered STOP to the account's
 * messages, once "Opt-out for API" is on). It is the account's, not a tenant's, so its numbers go
 * on the account-wide list. Each page is one provider call through the upstream budget; a number
 * already listed is stored once (the list's key), so repeated imports and restarts add nothing.
 */
export function createOptOutImporter(options: {
  budget: UpstreamBudget;
  upstream: UpstreamClient;
  suppressions: SuppressionRepository;
  defaultRegion: string;
  intervalMs: number;
  clock: Clock;
  logger: Logger;
  onEvents: (events: StoredEvent[]) => void;
  maxPages?: number;
}): OptOutImporter {
  const { budget, upstream, suppressions, clock, logger } = options;
  const maxPages = options.maxPages ?? 1000;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;

  async function readPage(page: number): Promise<{ numbers: string[]; count: number }> {
    try {
      const { body } = await budget.run(OPTOUT_IMPORT_QUEUE, () =>
        upstream.read('get-optout', { page: String(page) }),
      );
      const parsed = optOutPageSchema.safeParse(body);
      if (!parsed.success) throw new Error('get-optout answer was not in the documented shape');
      const rows = parsed.data.data?.responses;
      const numbers = (Array.isArray(rows) ? rows : []).flatMap((row) => {
        const phone = parsePhoneNumberFromString(
          String(row.number).replace(/^(?=[1-9]\d{9,})/, '+'),
          options.defaultRegion as CountryCode,
        );
        return phone?.isValid() ? [phone.number] : [];
      });
      return { numbers, count: parsed.data.data?.page?.count ?? 1 };
    } catch (error) {
      // An empty list may be an error envelope, as get-responses' is (NOT_FOUND).
      if (error instanceof UpstreamError && error.provider?.status === 'NOT_FOUND') {
        return { numbers: [], count: 0 };
      }
      throw error;
    }
  }

  async function importOnce() {
    const numbers = new Set<string>();
    let pages = 0;
    for (let page = 1, count = 1; page <= count && page <= maxPages; page++) {
      const result = await readPage(page);
      pages += 1;
      count = result.count;
      for (const number of result.numbers) numbers.add(number);
    }
    const at = new Date(clock.now()).toISOString();
    const { applied, events } = await suppressions.apply(
      [...numbers].map((number) => ({
        action: 'opt_out' as const,
        scope: ACCOUNT_SCOPE,
        number,
        source: 'provider',
        reason: "the provider's opt-out list",
      })),
      at,
    );
    options.onEvents(events);
    if (applied.length > 0) {
      logger.info({ read: numbers.size, added: applied.length, pages }, 'imported the provider opt-out list');
    }
    return { read: numbers.size, added: applied.length, pages };
  }

  return {
    importOnce,
    start() {
      if (options.intervalMs <= 0) return;
      timer = setInterval(() => {
        running ??= importOnce()
          .catch((error: unknown) => logger.warn({ err: error }, 'opt-out import failed; will try again'))
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
