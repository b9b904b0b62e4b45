import type { ZodType } from 'zod';
import { z } from 'zod';
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject } from 'zod-openapi';
import { MESSAGE_STATUSES } from '../store';
import * as s from './schemas';

const json = (schema: ZodType) => ({ content: { 'application/json': { schema } } });
const ok = (schema: ZodType, description = 'OK') => ({ description, ...json(schema) });
const failureResponse = { description: 'Failure (see error.code)', ...json(s.failure) };
const text = (type: string, description: string) => ({
  description,
  content: { [type]: { schema: z.string() } },
});
const page = z.object({
  page: z
    .string()
    .regex(/^[1-9][0-9]*$/)
    .optional(),
});

type Operation = Omit<ZodOpenApiOperationObject, 'responses'> & {
  responses?: ZodOpenApiOperationObject['responses'];
};

/** An operation whose every non-listed status is the failure envelope. */
function op(
  summary: string,
  tags: string[],
  operation: Operation,
  success: Record<string, unknown>,
): ZodOpenApiOperationObject {
  return {
    summary,
    tags,
    ...operation,
    responses: { ...success, default: failureResponse },
  } as ZodOpenApiOperationObject;
}

const bearer = [{ bearer: [] }];

const paths: ZodOpenApiPathsObject = {
  '/v1/messages': {
    post: op(
      'Send one text to 1–1000 recipients (Idempotency-Key honoured; Prefer: respond-async → 202)',
      ['messages'],
      {
        security: bearer,
        requestParams: {
          header: z.object({
            'Idempotency-Key': z.string().max(255).optional(),
            Prefer: z.string().optional(),
          }),
        },
        requestBody: { content: { 'application/json': { schema: s.sendRequest } } },
      },
      { '201': ok(s.success(s.sendResult), 'Sent'), '202': ok(s.success(s.sendResult), 'Queued durably') },
    ),
    get: op(
      "This tenant's messages, newest first",
      ['messages'],
      { security: bearer, requestParams: { query: page } },
      {
        '200': ok(s.success(z.array(s.publicMessage), true)),
      },
    ),
  },
  '/v1/messages/{id}': {
    get: op(
      'One message with its status history',
      ['messages'],
      {
        security: bearer,
        requestParams: { path: z.object({ id: z.string() }) },
      },
      { '200': ok(s.success(s.messageDetail)) },
    ),
  },
  '/v1/inbound': {
    get: op(
      'Replies and inbound SMS routed to this tenant',
      ['inbound'],
      { security: bearer, requestParams: { query: page } },
      {
        '200': ok(s.success(z.array(s.inboundItem), true)),
      },
    ),
  },
  '/v1/usage': {
    get: op(
      "This tenant's rate limit and quotas",
      ['limits'],
      { security: bearer },
      { '200': ok(s.success(s.usage)) },
    ),
  },
  '/v1/admin/usage': {
    get: op(
      "Every tenant's usage (admin)",
      ['admin'],
      { security: bearer },
      { '200': ok(s.success(z.array(s.usage))) },
    ),
  },
  '/v1/events': {
    get: op(
      'Server-Sent Events: message.status and message.inbound (bearer or ?ticket=)',
      ['events'],
      {
        security: [...bearer, {}],
        requestParams: {
          query: z.object({ ticket: z.string().optional() }),
          header: z.object({ 'Last-Event-ID': z.string().optional() }),
        },
      },
      { '200': text('text/event-stream', 'The event stream') },
    ),
  },
  '/v1/events/tickets': {
    post: op(
      'A single-use 60 s ticket for EventSource',
      ['events'],
      { security: bearer },
      { '201': ok(s.success(s.ticket), 'Created') },
    ),
  },
  '/v1/forms/{formId}': {
    post: op(
      'Website contact form (public): SMS to the form’s fixed recipients',
      ['forms'],
      {
        requestParams: { path: z.object({ formId: z.string() }) },
        requestBody: {
          content: {
            'application/x-www-form-urlencoded': { schema: z.record(z.string(), z.string()) },
            'application/json': { schema: z.record(z.string(), z.unknown()) },
          },
        },
      },
      {
        '201': ok(s.success(z.object({ received: z.literal(true) })), 'Received'),
        '303': { description: 'Plain HTML post: redirected to the form’s successRedirect' },
      },
    ),
    options: op(
      'CORS preflight (answered only for the form’s origins)',
      ['forms'],
      {
        requestParams: { path: z.object({ formId: z.string() }) },
      },
      { '204': { description: 'Preflight answered' } },
    ),
  },
  '/v1/callbacks/cellcast/{token}/dlr': {
    post: op(
      'Provider delivery reports (array or object), stored before 200',
      ['callbacks'],
      {
        requestParams: { path: z.object({ token: z.string() }) },
        requestBody: { content: { 'application/json': { schema: z.unknown() } } },
      },
      { '200': ok(s.success(s.dlrCounts)) },
    ),
  },
  '/v1/callbacks/cellcast/{token}/inbound': {
    post: op(
      'Provider inbound replies (array or object), stored before 200',
      ['callbacks'],
      {
        requestParams: { path: z.object({ token: z.string() }) },
        requestBody: { content: { 'application/json': { schema: z.unknown() } } },
      },
      { '200': ok(s.success(s.inboundCounts)) },
    ),
  },
  '/v1/auth/token': {
    post: op(
      'OAuth2 client credentials → a token for a team backend',
      ['auth'],
      {
        requestBody: {
          content: {
            'application/x-www-form-urlencoded': {
              schema: z.object({
                grant_type: z.literal('client_credentials'),
                client_id: z.string().optional(),
                client_secret: z.string().optional(),
              }),
            },
          },
        },
      },
      { '200': ok(s.success(s.token).extend(s.token.shape)) },
    ),
  },
  '/v1/admin/webhooks/dead-letters': {
    get: op(
      'Webhook deliveries that gave up (admin)',
      ['admin'],
      {
        security: bearer,
        requestParams: { query: page.extend({ tenant: z.string().optional() }) },
      },
      { '200': ok(s.success(z.array(s.deadLetter), true)) },
    ),
  },
  '/v1/admin/webhooks/dead-letters/{id}/replay': {
    post: op(
      'Send a dead letter again, same webhook-id (admin)',
      ['admin'],
      {
        security: bearer,
        requestParams: { path: z.object({ id: z.string() }) },
      },
      { '200': ok(s.success(z.object({ id: z.number().int(), state: z.literal('pending') }))) },
    ),
  },
  '/v1/admin/webhooks/{tenant}/enable': {
    post: op(
      'Re-enable an endpoint that answered 410 (admin)',
      ['admin'],
      {
        security: bearer,
        requestParams: { path: z.object({ tenant: z.string() }) },
      },
      {
        '200': ok(
          s.success(z.object({ tenant: z.string(), enabled: z.boolean(), wasDisabled: z.boolean() })),
        ),
      },
    ),
  },
  '/v1/admin/messages': {
    get: op(
      "Every tenant's messages, newest first, optionally by status (e.g. `unknown`) and tenant (admin)",
      ['admin'],
      {
        security: bearer,
        requestParams: {
          query: page.extend({
            status: z.enum(MESSAGE_STATUSES as [string, ...string[]]).optional(),
            tenant: z.string().optional(),
          }),
        },
      },
      { '200': ok(s.success(z.array(s.adminMessage), true)) },
    ),
  },
  '/v1/admin/inbound/unrouted': {
    get: op(
      'Inbound messages no tenant has: held replies and texts no rule routed (admin)',
      ['admin'],
      { security: bearer, requestParams: { query: page } },
      { '200': ok(s.success(z.array(s.adminInbound), true)) },
    ),
  },
  '/v1/admin/inbound/{id}/assign': {
    post: op(
      'Route an unrouted inbound message to a tenant, with its message.inbound event (admin)',
      ['admin'],
      {
        security: bearer,
        requestParams: { path: z.object({ id: z.string() }) },
        requestBody: { content: { 'application/json': { schema: z.object({ tenant: z.string() }) } } },
      },
      { '200': ok(s.success(s.adminInbound)) },
    ),
  },
  '/v1/admin/upstream/{endpoint}': {
    get: op(
      "The provider's own reads, through the budget, body and page block unchanged (admin)",
      ['admin'],
      {
        security: bearer,
        requestParams: { path: z.object({ endpoint: z.string() }), query: page },
      },
      {
        '200': ok(
          z.object({
            error: z.object({ code: z.literal('SUCCESS'), description: z.string() }),
            data: z.unknown(),
            page: z.unknown().optional(),
          }),
        ),
      },
    ),
  },
  '/healthz': {
    get: op('Liveness', ['operations'], {}, { '200': ok(s.success(z.object({ status: z.literal('ok') }))) }),
  },
  '/readyz': {
    get: op(
      'Readiness (store, not shutting down)',
      ['operations'],
      {},
      { '200': ok(s.success(z.object({ status: z.literal('ready') }))) },
    ),
  },
  '/metrics': {
    get: op(
      'Prometheus metrics (optionally behind metrics.token)',
      ['operations'],
      {},
      { '200': text('text/plain', 'Metrics') },
    ),
  },
  '/openapi.json': {
    get: op('This document', ['operations'], {}, { '200': ok(z.record(z.string(), z.unknown())) }),
  },
  '/docs': {
    get: op('Interactive documentation', ['operations'], {}, { '200': text('text/html', 'Swagger UI') }),
  },
  '/demo/contact': {
    get: op('Demo contact form (sandbox mode only)', ['sandbox'], {}, { '200': text('text/html', 'Page') }),
  },
  '/demo/contact/thanks': {
    get: op('Demo thank-you page (sandbox mode only)', ['sandbox'], {}, { '200': text('text/html', 'Page') }),
  },
  '/demo/contact/form.js': {
    get: op(
      'Demo form script (sandbox mode only)',
      ['sandbox'],
      {},
      { '200': text('text/javascript', 'Script') },
    ),
  },
  '/demo/contact/form.css': {
    get: op('Demo form styles (sandbox mode only)', ['sandbox'], {}, { '200': text('text/css', 'Styles') }),
  },
};

/** The OpenAPI 3.1 document of the whole public API, generated from the zod schemas. */
export function openApiDocument(version: string) {
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'smsgate',
      version,
      description:
        'Self-hosted SMS gateway in front of Cellcast v3. Every JSON response is the envelope ' +
        '`{error: {code, description}, data, page?}`; lists take `?page=N` and return 25 items a page.',
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    paths,
  });
}
