import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ZodType } from 'zod';
import {
  createDocument,
  type ZodOpenApiOperationObject,
  type ZodOpenApiPathsObject,
  type ZodOpenApiResponseObject,
} from 'zod-openapi';
import { failureSchema, toOpenApiPath, type ResponseSpec, type RouteDefinition } from '../http';

/** An event the gateway sends (by webhook and on the event stream), with its payload's schema. */
export interface EventDefinition {
  type: string;
  summary: string;
  payload: ZodType;
}

export type OpenApiDocument = ReturnType<typeof createDocument>;

const failureResponse = {
  description: 'Failure (see error.code)',
  content: { 'application/json': { schema: failureSchema } },
};

function response({ description, content }: ResponseSpec): ZodOpenApiResponseObject {
  if (!content) return { description };
  return {
    description,
    content: Object.fromEntries(Object.entries(content).map(([type, schema]) => [type, { schema }])),
  };
}

/** A route's operation: its access as `security`, its request schemas, its answers and the failure envelope. */
function operationOf(route: RouteDefinition): ZodOpenApiOperationObject {
  const { request } = route;
  const params = {
    ...(request?.params ? { path: request.params } : {}),
    ...(request?.query ? { query: request.query } : {}),
    ...(request?.headers ? { header: request.headers } : {}),
  };
  return {
    summary: route.summary,
    tags: route.tags,
    ...(route.access === 'public' ? {} : { security: route.authenticate?.security ?? [{ bearer: [] }] }),
    ...(Object.keys(params).length > 0 ? { requestParams: params } : {}),
    ...(request?.body
      ? {
          requestBody: {
            content: Object.fromEntries(
              request.body.contentTypes.map((type) => [type, { schema: request.body!.schema }]),
            ),
          },
        }
      : {}),
    responses: {
      ...Object.fromEntries(
        Object.entries(route.responses).map(([status, spec]) => [status, response(spec)]),
      ),
      default: failureResponse,
    },
  };
}

/**
 * The OpenAPI 3.1 document of the API, assembled from the routes the gateway registers (so it
 * lists exactly what is served) and the events it sends (as `webhooks`).
 */
export function openApiDocument(
  routes: RouteDefinition[],
  events: EventDefinition[] = [],
  version = packageVersion(),
): OpenApiDocument {
  const paths: ZodOpenApiPathsObject = {};
  for (const route of routes) {
    const path = toOpenApiPath(route.path);
    paths[path] = { ...paths[path], [route.method]: operationOf(route) };
  }
  const webhooks: ZodOpenApiPathsObject = Object.fromEntries(
    events.map(({ type, summary, payload }) => [
      type,
      {
        post: {
          summary,
          tags: ['events'],
          requestBody: { content: { 'application/json': { schema: payload } } },
          responses: { '2XX': { description: 'Received (any other answer is retried)' } },
        },
      },
    ]),
  );
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'smsgate',
      version,
      description:
        'Self-hosted SMS gateway in front of Cellcast v3. Every JSON response is the envelope ' +
        '`{error: {code, description}, data, page?}`; lists take `?page=N` and return 25 items a page. ' +
        'Events (`webhooks` below) are POSTed to a tenant’s webhook with Standard Webhooks signatures ' +
        'and streamed on `GET /v1/events`.',
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        ticket: {
          type: 'apiKey',
          in: 'query',
          name: 'ticket',
          description: 'A single-use ticket from POST /v1/events/tickets, for EventSource',
        },
      },
    },
    paths,
    webhooks,
  });
}

function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(resolve(__dirname, '../../package.json'), 'utf8')) as {
    version?: string;
  };
  return manifest.version ?? '0.0.0';
}
