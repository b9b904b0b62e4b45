import { z } from 'zod';

// The events the gateway sends, as zod schemas: POSTed to a tenant's webhook (Standard Webhooks)
// and written to its event stream (GET /v1/events) with the same JSON. Documented as the OpenAPI
// document's `webhooks`.

function eventSchema<T extends string, D extends z.ZodType>(type: T, data: D, id: string) {
  return z
    .object({
      id: z.string().meta({ description: 'The webhook-id: the same on every retry and replay' }),
      type: z.literal(type),
      timestamp: z.string(),
      data,
    })
    .meta({ id });
}

export const messageStatusEvent = eventSchema(
  'message.status',
  z.object({
    messageId: z.string(),
    status: z.string(),
    to: z.string(),
    reference: z.string().nullable(),
    batchId: z.string(),
    at: z.string(),
    error: z.string().nullable().optional().meta({ description: 'Why the send failed (send outcomes)' }),
    providerStatus: z.string().optional().meta({ description: "The provider's status (delivery reports)" }),
  }),
  'MessageStatusEvent',
);

export const messageInboundEvent = eventSchema(
  'message.inbound',
  z.object({
    id: z.string(),
    from: z.string(),
    text: z.string(),
    receivedAt: z.string(),
    replyTo: z.string().nullable().meta({ description: 'The message this replies to, when known' }),
    routedBy: z.enum(['reply', 'keyword', 'default']),
  }),
  'MessageInboundEvent',
);

const contactChange = z.object({
  number: z.string().meta({ description: 'E.164' }),
  scope: z
    .enum(['tenant', 'account'])
    .meta({ description: "This tenant's own list, or the account-wide one" }),
  source: z.enum(['reply', 'admin', 'provider']).meta({
    description:
      "`reply`: the number texted a keyword; `admin`: an operator; `provider`: the provider's opt-out list",
  }),
  reason: z.string().nullable(),
  at: z.string(),
});

export const contactOptedOutEvent = eventSchema('contact.opted_out', contactChange, 'ContactOptedOutEvent');
export const contactOptedInEvent = eventSchema('contact.opted_in', contactChange, 'ContactOptedInEvent');

export const accountLowBalanceEvent = eventSchema(
  'account.low_balance',
  z.object({
    smsBalance: z.number().nullable().meta({ description: 'Provider SMS credits, when known' }),
    mmsBalance: z.number().nullable(),
    threshold: z.number().nullable().meta({ description: 'account.lowBalanceThreshold' }),
    source: z.enum(['balance', 'provider_alert']).meta({
      description:
        "`balance`: a balance read below the threshold; `provider_alert`: the provider's own alert",
    }),
    message: z.string().optional().meta({ description: "The provider's alert text" }),
    at: z.string(),
  }),
  'AccountLowBalanceEvent',
);

const verificationData = (status: 'approved' | 'expired') =>
  z.object({
    verificationId: z.string(),
    to: z.string(),
    status: z.literal(status),
    at: z.string(),
  });

export const verificationApprovedEvent = eventSchema(
  'verification.approved',
  verificationData('approved'),
  'VerificationApprovedEvent',
);

export const verificationExpiredEvent = eventSchema(
  'verification.expired',
  verificationData('expired'),
  'VerificationExpiredEvent',
);

export const fraudSuspectedEvent = eventSchema(
  'fraud.suspected',
  z.object({
    tenant: z.string(),
    range: z
      .string()
      .meta({ description: 'The country code and first digits of the numbers, e.g. +6141200' }),
    country: z.string(),
    requests: z.number().int().meta({ description: 'Verification requests for the range since `since`' }),
    approved: z.number().int(),
    since: z.string(),
    blockedUntil: z.string(),
  }),
  'FraudSuspectedEvent',
);

export const eventDefinitions = [
  {
    type: 'message.status',
    summary: 'A message changed status (sent, failed, delivered…)',
    payload: messageStatusEvent,
  },
  {
    type: 'message.inbound',
    summary: 'A reply or inbound SMS for this tenant',
    payload: messageInboundEvent,
  },
  {
    type: 'contact.opted_out',
    summary: "A number went on this tenant's (or the account's) suppression list",
    payload: contactOptedOutEvent,
  },
  {
    type: 'contact.opted_in',
    summary: 'A number came off a suppression list (START / UNSTOP, or an operator)',
    payload: contactOptedInEvent,
  },
  {
    type: 'account.low_balance',
    summary: 'The provider balance went below the threshold (once per crossing)',
    payload: accountLowBalanceEvent,
  },
  {
    type: 'verification.approved',
    summary: 'A verification code was checked right',
    payload: verificationApprovedEvent,
  },
  {
    type: 'verification.expired',
    summary: 'A verification code expired unchecked',
    payload: verificationExpiredEvent,
  },
  {
    type: 'fraud.suspected',
    summary:
      'Operators only (adminEvents.webhook, GET /v1/admin/events): a number range asks for many codes and verifies few; refused for an hour',
    payload: fraudSuspectedEvent,
  },
];
