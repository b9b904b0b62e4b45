import { z } from 'zod';
import { errorStatus } from '../http/errors';

// The response shapes of the contract (shared/design/api.md), as zod schemas: the OpenAPI document
// is generated from them, and the e2e tests validate every response against that document.

export const errorCode = z
  .enum(['SUCCESS', ...(Object.keys(errorStatus) as [string, ...string[]])])
  .meta({ id: 'ErrorCode' });

export const pageBlock = z
  .object({ count: z.number().int().min(0), number: z.number().int().min(0) })
  .meta({ id: 'Page', description: '`count` = number of pages, `number` = this page (25 items a page)' });

export const failure = z
  .object({
    error: z.object({ code: errorCode, description: z.string() }),
    data: z.object({}),
  })
  .meta({
    id: 'Failure',
    description: 'Every 4xx/5xx: the code and a sentence naming the field or resource at fault',
  });

/** `{error: {code: SUCCESS, description: ''}, data}` (and `page` on lists). */
export function success<T extends z.ZodType>(data: T, paged = false) {
  const error = z.object({ code: z.literal('SUCCESS'), description: z.string() });
  return paged ? z.object({ error, data, page: pageBlock }) : z.object({ error, data });
}

const nullableString = z.string().nullable();

export const publicMessage = z
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
  })
  .meta({ id: 'Message' });

export const sendResult = z
  .object({ messages: z.array(publicMessage), total: z.number().int(), segments: z.number().int() })
  .meta({ id: 'SendResult' });

export const messageDetail = publicMessage
  .extend({
    text: z.string(),
    providerMessageId: nullableString,
    history: z.array(z.object({ status: z.string(), detail: nullableString, at: z.string() })),
  })
  .meta({ id: 'MessageDetail' });

export const sendRequest = z
  .object({
    to: z.union([z.string(), z.array(z.string()).min(1).max(1000)]),
    text: z.string(),
    from: z.string().optional(),
    scheduleAt: z.string().optional(),
    reference: z.string().max(128).optional(),
  })
  .meta({ id: 'SendRequest' });

export const inboundItem = z
  .object({
    id: z.string(),
    from: z.string(),
    text: z.string(),
    receivedAt: z.string(),
    replyTo: nullableString,
    createdAt: z.string(),
  })
  .meta({ id: 'Inbound' });

export const usage = z
  .object({
    tenant: z.string(),
    rateLimit: z.object({
      requests: z.number().int().meta({ description: 'Requests allowed per window, over all /v1 routes' }),
      windowSec: z.number().int(),
      used: z
        .number()
        .int()
        .min(0)
        .nullable()
        .meta({ description: 'Requests counted in the current window (null while Redis is unreachable)' }),
      remaining: z.number().int().min(0).nullable(),
      resetsAt: nullableString.meta({
        description: 'When the current window ends (null when no window is open or Redis is unreachable)',
      }),
    }),
    quotas: z.array(
      z.object({
        name: z.enum(['segmentsPerDay', 'segmentsPerMonth']),
        limit: z.number(),
        used: z.number(),
        remaining: z.number(),
        resetsAt: z.string(),
      }),
    ),
  })
  .meta({ id: 'Usage' });

export const ticket = z
  .object({ ticket: z.string(), expiresAt: z.string(), url: z.string() })
  .meta({ id: 'EventTicket' });

export const deadLetter = z
  .object({
    id: z.number().int(),
    eventId: z.string(),
    tenantId: z.string(),
    type: z.string(),
    attempts: z.number().int(),
    lastStatus: z.number().int().nullable(),
    lastError: nullableString,
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'DeadLetter' });

export const dlrCounts = z
  .object({
    applied: z.number().int(),
    duplicates: z.number().int(),
    ignored: z.number().int(),
    rejected: z.number().int(),
  })
  .meta({ id: 'DeliveryReportCounts' });

export const inboundCounts = z
  .object({ stored: z.number().int(), duplicates: z.number().int(), rejected: z.number().int() })
  .meta({ id: 'InboundCounts' });

export const token = z
  .object({
    access_token: z.string(),
    token_type: z.literal('Bearer'),
    expires_in: z.number().int(),
    scope: z.string(),
  })
  .meta({ id: 'AccessToken' });
