import { z } from 'zod';
import type { Clock } from '../clock';
import type { DeliveryReportInput, DeliveryReportRepository, IntakeCounts, StoredEvent } from '../store';
import { rejectedPayload, tooDeep, type RejectedItem } from './items';

// The order statuses may follow each other in is the ledger's (store/message-status.ts).
export { statusRank } from '../store';

/** The provider's statuses (docs/provider.md, "Delivery statuses") and ours for them. */
const PROVIDER_STATUS: Record<string, string> = {
  Queued: 'sent',
  Dispatched: 'dispatched',
  Delivered: 'delivered',
  Failed: 'failed',
  Rejected: 'rejected',
  Expired: 'expired',
  Aborted: 'aborted',
  // "At the SMSC but no usable receipt": final, and not our `unknown` (a send whose outcome we do not know).
  Unknown: 'delivery_unknown',
};

const reportSchema = z.object({
  message_id: z.string().trim().min(1).max(64),
  status: z.enum(Object.keys(PROVIDER_STATUS) as [string, ...string[]]),
  recipient: z.union([z.string(), z.number()]).optional(),
  custom_string: z.string().max(64).optional(),
  source: z.string().optional(),
});

/**
 * Delivery reports from the provider: a JSON array (as it sends them) or a single object. Each
 * item is checked on its own: good ones are stored and applied, malformed ones are recorded as
 * rejected; one bad item never costs the others. Everything is stored before the answer.
 */
export function createDeliveryReportIntake(
  repository: DeliveryReportRepository,
  clock: Clock,
  onEvents: (events: StoredEvent[]) => void,
) {
  return async function receiveDeliveryReports(body: unknown): Promise<IntakeCounts> {
    const items = Array.isArray(body) ? body : [body];
    const reports: DeliveryReportInput[] = [];
    const rejected: RejectedItem[] = [];
    items.forEach((item, i) => {
      const deep = tooDeep(item, i);
      if (deep) {
        rejected.push(deep);
        return;
      }
      const parsed = reportSchema.safeParse(item);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        rejected.push({
          reason: `[${i}].${issue?.path.join('.') || 'item'}: ${issue?.message ?? 'invalid'}`,
          payload: rejectedPayload(item),
        });
        return;
      }
      const { message_id, status, recipient, custom_string } = parsed.data;
      const digits = recipient === undefined ? '' : String(recipient).replace(/[^0-9]/g, '');
      const ours = PROVIDER_STATUS[status] as string;
      reports.push({
        providerMessageId: message_id,
        providerStatus: status,
        status: ours,
        recipient: digits ? `+${digits}` : null,
        customString: custom_string || null,
      });
    });
    const { counts, events } = await repository.store(reports, rejected, new Date(clock.now()).toISOString());
    onEvents(events);
    return counts;
  };
}
