import { z } from 'zod';

// What the message routes answer, as zod schemas (documented in the OpenAPI document; the e2e
// tests validate every answer against it).

const nullableString = z.string().nullable();

export const publicMessageSchema = z
  .object({
    id: z.string(),
    to: z.string(),
    from: z.string(),
    status: z.string(),
    segments: z.number().int(),
    encoding: z.enum(['GSM-7', 'UCS-2']),
    createdAt: z.string(),
    scheduledAt: nullableString,
    reference: nullableString,
    error: nullableString,
    purpose: z
      .enum(['marketing', 'transactional'])
      .nullable()
      .meta({ description: 'null for messages sent before purposes were recorded' }),
  })
  .meta({ id: 'Message' });

export const sendResultSchema = z
  .object({
    messages: z.array(publicMessageSchema),
    total: z.number().int(),
    segments: z.number().int(),
    credits: z.number().meta({ description: 'Provider credits of the messages not refused or suppressed' }),
  })
  .meta({ id: 'SendResult' });

export const messageDetailSchema = publicMessageSchema
  .extend({
    text: z.string(),
    providerMessageId: nullableString,
    history: z.array(z.object({ status: z.string(), detail: nullableString, at: z.string() })),
  })
  .meta({ id: 'MessageDetail' });

/** Headers of a send: `Idempotency-Key` is checked by the idempotency step, its limits shown here. */
export const sendHeadersSchema = z.object({
  'Idempotency-Key': z.string().optional().meta({
    maxLength: 255,
    description: '1–255 printable ASCII characters; a retry with it never sends twice',
  }),
  Prefer: z.string().optional().meta({ description: '`respond-async`: answer 202 once queued durably' }),
});
