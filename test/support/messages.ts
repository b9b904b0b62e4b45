import type { MessageRecord } from '../../src/store';

let serial = 0;

/**
 * A queued one-segment message to one recipient, as the send path records it before the provider
 * call: what every store test's message has, with its own id, tenant, batch, recipient and time.
 */
export function queuedMessage(
  fields: Pick<MessageRecord, 'id' | 'tenantId' | 'batchId' | 'recipient' | 'createdAt'> &
    Partial<MessageRecord>,
): MessageRecord {
  return {
    sender: '',
    text: 'hello',
    segments: 1,
    encoding: 'GSM-7',
    status: 'queued',
    reference: null,
    providerMessageId: null,
    error: null,
    scheduledAt: null,
    updatedAt: fields.createdAt,
    ...fields,
  };
}

/**
 * A batch of `size` queued one-segment messages of one tenant, as the send path records them, with
 * ids that sort in the order the batches were made (and by position within a batch).
 */
export function queuedBatch(
  tenantId: string,
  size: number,
  { idPrefix = 'msg_', batchPrefix = 'bat_', at = '2026-11-25T01:00:00.000Z' } = {},
): MessageRecord[] {
  const batchId = `${batchPrefix}${++serial}`;
  const position = String(serial).padStart(6, '0');
  return Array.from({ length: size }, (_, i) =>
    queuedMessage({
      id: `${idPrefix}${position}_${String(i).padStart(4, '0')}`,
      tenantId,
      batchId,
      recipient: `+614120${String(i).padStart(5, '0')}`,
      createdAt: at,
    }),
  );
}
