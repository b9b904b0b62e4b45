import { z, type ZodType } from 'zod';
import { errorStatus } from './errors';
import type { ResponseSpec } from './routes';

// The envelope every JSON answer is wrapped in (shared by all routes), as zod schemas: routes
// document their answers with them, and the OpenAPI document is generated from those.

export const errorCodeSchema = z
  .enum(['SUCCESS', ...(Object.keys(errorStatus) as [string, ...string[]])])
  .meta({ id: 'ErrorCode' });

export const pageBlockSchema = z
  .object({ count: z.number().int().min(0), number: z.number().int().min(0) })
  .meta({ id: 'Page', description: '`count` = number of pages, `number` = this page (25 items a page)' });

export const failureSchema = z
  .object({
    error: z.object({ code: errorCodeSchema, description: z.string() }),
    data: z.object({}),
  })
  .meta({
    id: 'Failure',
    description: 'Every 4xx/5xx: the code and a sentence naming the field or resource at fault',
  });

/** `{error: {code: SUCCESS, description: ''}, data}` (and `page` on lists). */
export function successSchema<T extends ZodType>(data: T, paged = false) {
  const error = z.object({ code: z.literal('SUCCESS'), description: z.string() });
  return paged ? z.object({ error, data, page: pageBlockSchema }) : z.object({ error, data });
}

/** A JSON answer. */
export function jsonResponse(schema: ZodType, description = 'OK'): ResponseSpec {
  return { description, content: { 'application/json': schema } };
}

/** A non-JSON answer (a page, a script, the event stream…). */
export function textResponse(mediaType: string, description: string): ResponseSpec {
  return { description, content: { [mediaType]: z.string() } };
}
