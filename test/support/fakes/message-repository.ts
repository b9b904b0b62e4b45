import type {
  MessageOutcome,
  MessageRecord,
  MessageRepository,
  NewSendJob,
  StatusChange,
  StoredEvent,
} from '../../../src/store';
import { statusRank } from '../../../src/store';

/** What the fake keeps beyond the interface, for tests to look at. */
export interface FakeMessageRepository extends MessageRepository {
  all(): MessageRecord[];
  historyOf(id: string): StatusChange[];
}

/**
 * The message ledger in memory, applying outcomes as the SQL one does: a status only moves forward
 * (an outcome behind the current status, e.g. after a delivery report, changes nothing), a provider
 * id already set is kept, and only a change adds a history row and an event. `onJob` receives the send job that the
 * real repository writes in the same transaction as the batch.
 */
export function createFakeMessageRepository(
  options: { onJob?: (batchId: string, job: NewSendJob, createdAt: string) => void } = {},
): FakeMessageRepository {
  const messages = new Map<string, MessageRecord>();
  const history = new Map<string, StatusChange[]>();
  // Each message's place in its tenant's ledger, as the SQL repository numbers them (insert order).
  const positions = new Map<string, number>();
  const counters = new Map<string, number>();
  let nextEventId = 1;
  const newestFirst = (tenantId: string, subject?: string | null) =>
    [...messages.values()]
      .filter((m) => m.tenantId === tenantId && ownedBy(m, subject))
      .sort((a, b) => (positions.get(b.id) ?? 0) - (positions.get(a.id) ?? 0));

  return {
    async insertBatch(batch, job) {
      const first = batch[0];
      if (!first) return;
      for (const message of batch) {
        if (messages.has(message.id)) throw new Error(`duplicate message id ${message.id}`);
      }
      if (job) options.onJob?.(first.batchId, job, first.createdAt);
      for (const message of batch) {
        messages.set(message.id, {
          ...message,
          subject: message.subject ?? null,
          purpose: message.purpose ?? null,
        });
        const position = (counters.get(message.tenantId) ?? 0) + 1;
        counters.set(message.tenantId, position);
        positions.set(message.id, position);
        history.set(message.id, [{ status: message.status, detail: null, at: message.createdAt }]);
      }
    },

    async recordOutcomes(outcomes: MessageOutcome[], at, announce) {
      const applied: MessageOutcome[] = [];
      for (const outcome of outcomes) {
        const message = messages.get(outcome.id);
        if (!message || statusRank(message.status) >= statusRank(outcome.status)) continue;
        messages.set(outcome.id, {
          ...message,
          status: outcome.status,
          providerMessageId: message.providerMessageId ?? outcome.providerMessageId ?? null,
          error: outcome.error ?? null,
          updatedAt: at,
        });
        history.get(outcome.id)?.push({ status: outcome.status, detail: outcome.error ?? null, at });
        applied.push(outcome);
      }
      const ids = applied.map((outcome) => outcome.id);
      if (!announce) return { applied: ids, events: [] };
      const byId = new Map(announce.messages.map((m) => [m.id, m]));
      const events = applied.flatMap((outcome): StoredEvent[] => {
        const message = byId.get(outcome.id);
        if (!message) return [];
        const id = nextEventId++;
        const eventId = `evt_${id}`;
        const data = {
          messageId: outcome.id,
          status: outcome.status,
          to: message.recipient,
          reference: message.reference,
          batchId: message.batchId,
          error: outcome.error ?? null,
          at,
        };
        const payload = JSON.stringify({ id: eventId, type: 'message.status', timestamp: at, data });
        return [{ id, eventId, tenantId: message.tenantId, type: 'message.status', payload, createdAt: at }];
      });
      return { applied: ids, events };
    },

    async findBatch(batchId) {
      return [...messages.values()]
        .filter((m) => m.batchId === batchId)
        .sort((a, b) => (a.id < b.id ? -1 : 1))
        .map((m) => ({ ...m }));
    },

    async findForTenant(tenantId, id, subject) {
      const message = messages.get(id);
      if (!message || message.tenantId !== tenantId || !ownedBy(message, subject)) return undefined;
      return { ...message, history: [...(history.get(id) ?? [])] };
    },

    async listForTenant(tenantId, page, subject) {
      const items = newestFirst(tenantId, subject);
      return { items: items.slice(page.offset, page.offset + page.size), total: items.length };
    },

    async listAfter(tenantId, after, size, subject) {
      const items = newestFirst(tenantId, subject);
      const index = items.findIndex((m) => m.id === after);
      if (index < 0) return undefined;
      return { items: items.slice(index + 1, index + 1 + size), total: items.length, newer: index + 1 };
    },

    async listAll(filter, page) {
      const items = [...messages.values()]
        .filter((m) => filter.status === undefined || m.status === filter.status)
        .filter((m) => filter.tenantId === undefined || m.tenantId === filter.tenantId)
        .sort((a, b) =>
          a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1,
        );
      return { items: items.slice(page.offset, page.offset + page.size), total: items.length };
    },

    all: () => [...messages.values()].map((m) => ({ ...m })),
    historyOf: (id) => [...(history.get(id) ?? [])],
  };
}

/** As the SQL: undefined = any subject; null = rows without one; else rows with exactly this one. */
function ownedBy(message: MessageRecord, subject: string | null | undefined): boolean {
  return subject === undefined || (message.subject ?? null) === subject;
}
