import type { CountryCode } from 'libphonenumber-js/max';
import { z } from 'zod';
import type { Clock } from '../clock';
import type { Config } from '../config';
import {
  ApiError,
  jsonResponse,
  pageBlock,
  pageQuery,
  parsePage,
  requireJson,
  sendSuccess,
  successSchema,
  textResponse,
  type RouteDefinition,
} from '../http';
import { parsePhoneNumberFromString } from '../messages';
import {
  ACCOUNT_SCOPE,
  type StoredEvent,
  type SuppressionRecord,
  type SuppressionRepository,
} from '../store';

export const suppressionSchema = z
  .object({
    number: z.string(),
    tenant: z.string().nullable().meta({ description: "The tenant's own list, or null: the account's" }),
    source: z.enum(['reply', 'admin', 'provider']),
    reason: z.string().nullable(),
    createdAt: z.string(),
  })
  .meta({ id: 'Suppression' });

const listQuery = pageQuery.extend({
  tenant: z
    .string()
    .optional()
    .meta({ description: "One tenant's own list, or `*` for the account-wide one; default: every list" }),
  number: z.string().optional().meta({ description: 'Only this number' }),
});

const addSchema = z.strictObject({
  number: z.string(),
  tenant: z.string().nullable().optional().meta({ description: 'Omitted or null: the account-wide list' }),
  reason: z.string().max(200).optional(),
});

function toPublic(record: SuppressionRecord) {
  return {
    number: record.number,
    tenant: record.tenant,
    source: record.source,
    reason: record.reason,
    createdAt: record.createdAt,
  };
}

/**
 * One CSV field (RFC 4180). A value a spreadsheet would run as a formula is defused with a leading
 * quote (a reason is free text); an E.164 number is left as it is.
 */
function csvField(value: string | null): string {
  const text = value ?? '';
  const safe = /^[=+\-@\t\r]/.test(text) && !/^\+[0-9]{6,15}$/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/**
 * /v1/admin/suppressions: the suppression lists (each tenant's and the account's) for operators —
 * list (paginated), add, remove and a CSV export. Adding and removing announce
 * `contact.opted_out` / `contact.opted_in` to the tenants the list concerns, as replies do.
 */
export function suppressionAdminRoutes(
  config: Config,
  suppressions: SuppressionRepository,
  clock: Clock,
  onEvents: (events: StoredEvent[]) => void,
): RouteDefinition[] {
  function numberOf(raw: unknown, field: string): string {
    if (typeof raw !== 'string' || raw.trim() === '') throw new ApiError('FIELD_EMPTY', `${field}: required`);
    const phone = parsePhoneNumberFromString(raw, config.messages.defaultRegion as CountryCode);
    if (!phone?.isValid())
      throw new ApiError('FIELD_INVALID', `${field}: '${raw.slice(0, 32)}' is not a valid phone number`);
    return phone.number;
  }
  /** A tenant id, `*` (or null / omitted where allowed) for the account. */
  function scopeOf(raw: unknown, field: string): string {
    if (raw === undefined || raw === null || raw === ACCOUNT_SCOPE) return ACCOUNT_SCOPE;
    if (typeof raw !== 'string' || !Object.hasOwn(config.tenants, raw))
      throw new ApiError(
        'FIELD_INVALID',
        `${field}: '${(typeof raw === 'string' ? raw : JSON.stringify(raw)).slice(0, 64)}' is not a configured tenant`,
      );
    return raw;
  }
  function filterOf(query: Record<string, unknown>) {
    return {
      scope: query.tenant === undefined ? undefined : scopeOf(query.tenant, 'tenant'),
      number: query.number === undefined ? undefined : numberOf(query.number, 'number'),
    };
  }

  return [
    {
      method: 'get',
      path: '/v1/admin/suppressions',
      access: 'admin',
      summary: 'Suppression lists: numbers marketing may not reach, newest first (admin)',
      tags: ['admin'],
      request: { query: listQuery },
      responses: { 200: jsonResponse(successSchema(z.array(suppressionSchema), true)) },
      handler: async (req, res) => {
        const page = parsePage(req.query.page);
        const { items, total } = await suppressions.list(filterOf(req.query), page);
        sendSuccess(res, 200, items.map(toPublic), pageBlock(page, total));
      },
    },
    {
      method: 'get',
      path: '/v1/admin/suppressions/export',
      access: 'admin',
      summary: 'The suppression lists as CSV: number, tenant, source, reason, createdAt (admin)',
      tags: ['admin'],
      request: { query: listQuery.omit({ page: true }) },
      responses: { 200: textResponse('text/csv', 'CSV with a header row; tenant empty = account-wide') },
      handler: async (req, res) => {
        const filter = filterOf(req.query);
        const lines = ['number,tenant,source,reason,createdAt'];
        const size = 1000;
        for (let offset = 0; ; offset += size) {
          const { items } = await suppressions.list(filter, { offset, size });
          for (const r of items) {
            lines.push([r.number, r.tenant, r.source, r.reason, r.createdAt].map(csvField).join(','));
          }
          if (items.length < size) break;
        }
        res
          .status(200)
          .type('text/csv')
          .set('Content-Disposition', 'attachment; filename="suppressions.csv"')
          .send(`${lines.join('\r\n')}\r\n`);
      },
    },
    {
      method: 'post',
      path: '/v1/admin/suppressions',
      access: 'admin',
      summary: 'Put a number on a tenant list or the account list (admin); 200 if it already was',
      tags: ['admin'],
      request: { body: { schema: addSchema, contentTypes: ['application/json'] } },
      responses: {
        201: jsonResponse(successSchema(suppressionSchema), 'Added'),
        200: jsonResponse(successSchema(suppressionSchema), 'Already listed'),
      },
      middleware: [requireJson],
      handler: async (req, res) => {
        const body = req.body as z.infer<typeof addSchema>;
        const number = numberOf(body.number, 'number');
        const scope = scopeOf(body.tenant, 'tenant');
        const at = new Date(clock.now()).toISOString();
        const { applied, events } = await suppressions.apply(
          [{ action: 'opt_out', scope, number, source: 'admin', reason: body.reason ?? null }],
          at,
        );
        onEvents(events);
        const { items } = await suppressions.list({ scope, number }, { offset: 0, size: 1 });
        const record = items[0];
        if (!record) throw new ApiError('CONFLICT', `number: ${number} was removed meanwhile`);
        sendSuccess(res, applied.length > 0 ? 201 : 200, toPublic(record));
      },
    },
    {
      method: 'delete',
      path: '/v1/admin/suppressions/:number',
      access: 'admin',
      summary: 'Take a number off a tenant list (?tenant=) or the account list (admin)',
      tags: ['admin'],
      request: {
        params: z.object({ number: z.string() }),
        query: z.object({
          tenant: z
            .string()
            .optional()
            .meta({ description: 'The tenant whose list; omitted: the account list' }),
        }),
      },
      responses: {
        200: jsonResponse(
          successSchema(
            z.object({ number: z.string(), tenant: z.string().nullable(), removed: z.literal(true) }),
          ),
        ),
      },
      handler: async (req, res) => {
        const number = numberOf(req.params.number, 'number');
        const scope = scopeOf(req.query.tenant, 'tenant');
        const { applied, events } = await suppressions.apply(
          [{ action: 'opt_in', scope, number, source: 'admin', reason: null }],
          new Date(clock.now()).toISOString(),
        );
        if (applied.length === 0) {
          const list = scope === ACCOUNT_SCOPE ? 'the account list' : `tenant ${scope}'s list`;
          throw new ApiError('NOT_FOUND', `number: ${number} is not on ${list}`);
        }
        onEvents(events);
        const tenant = scope === ACCOUNT_SCOPE ? null : scope;
        sendSuccess(res, 200, { number, tenant, removed: true as const });
      },
    },
  ];
}
