import { ulidFactory } from '../security';
import { z } from 'zod';
import type { Clock } from '../clock';
import type { Config } from '../config';
import type { AppliedChange, InboundCounts, InboundInput, InboundRepository, StoredEvent } from '../store';
import { rejectedPayload, tooDeep } from './items';

const inboundSchema = z.object({
  message_id: z.union([z.string().trim().min(1).max(64), z.number()]),
  from: z.union([z.string().min(1).max(20), z.number()]),
  body: z.string().max(10_000),
  received_at: z.string().max(32).optional(),
  original_message_id: z.string().max(64).optional(),
  custom_string: z.string().optional(),
  type: z.string().optional(),
});

/** Inbound text is attacker-chosen (anyone can text the number): stored as data, capped. */
const MAX_INBOUND_TEXT = 2000;
const nextUlid = ulidFactory();

/**
 * Inbound replies from the provider (a JSON array, or one object). A reply to one of our messages
 * goes to the tenant that sent it (by the provider's id, or our batch id and the number); a reply
 * naming a message we cannot place is held for an operator; anything else goes by the first-word
 * keyword rules, then to inbound.defaultTenant, else it is kept and routed to nobody. Duplicates
 * are stored once.
 */
export function createInboundIntake(
  config: Config,
  repository: InboundRepository,
  clock: Clock,
  onEvents: (events: StoredEvent[]) => void,
  /** Replies that changed a suppression list (opt-out / opt-in keywords), after the commit. */
  onOptChanges?: (changes: AppliedChange[]) => void,
) {
  function fallbackRoute(text: string): InboundInput['fallback'] {
    const firstWord = text.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
    const rule = config.inbound.rules.find((r) => r.keyword.toLowerCase() === firstWord);
    if (rule) return { tenantId: rule.tenant, routedBy: 'keyword' };
    if (config.inbound.defaultTenant) return { tenantId: config.inbound.defaultTenant, routedBy: 'default' };
    return { tenantId: null, routedBy: 'none' };
  }

  return async function receiveInbound(body: unknown): Promise<InboundCounts> {
    const items = Array.isArray(body) ? body : [body];
    const accepted: InboundInput[] = [];
    const rejected: { reason: string; payload: string }[] = [];
    const now = clock.now();
    items.forEach((item, i) => {
      const deep = tooDeep(item, i);
      if (deep) {
        rejected.push(deep);
        return;
      }
      const parsed = inboundSchema.safeParse(item);
      const digits = parsed.success ? String(parsed.data.from).replace(/[^0-9]/g, '') : '';
      if (!parsed.success || digits === '') {
        const issue = parsed.success ? undefined : parsed.error.issues[0];
        const reason = issue
          ? `[${i}].${issue.path.join('.') || 'item'}: ${issue.message}`
          : `[${i}].from: no phone number`;
        rejected.push({ reason, payload: rejectedPayload(item) });
        return;
      }
      const text = parsed.data.body.slice(0, MAX_INBOUND_TEXT);
      accepted.push({
        id: `in_${nextUlid(now)}`,
        providerMessageId: String(parsed.data.message_id),
        sender: `+${digits}`,
        text,
        receivedAt: parsed.data.received_at ?? '',
        originalProviderMessageId: parsed.data.original_message_id || null,
        // Ours are short batch ids; anything longer names no batch of ours (and is kept capped).
        customString: parsed.data.custom_string?.slice(0, 64) || null,
        fallback: fallbackRoute(text),
        createdAt: new Date(now).toISOString(),
      });
    });
    const { counts, events, optChanges } = await repository.store(
      accepted,
      rejected,
      new Date(now).toISOString(),
    );
    onEvents(events);
    if (optChanges.length > 0) onOptChanges?.(optChanges);
    return counts;
  };
}
