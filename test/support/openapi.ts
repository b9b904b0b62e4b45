import Ajv2020 from 'ajv/dist/2020';
import type { Express } from 'express';
import { toOpenApiPath } from '../../src/http';
import type { OpenApiDocument } from '../../src/openapi';

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
  name?: string;
}

/** Every `METHOD /path` the Express app has a route for, written as the document writes paths. */
export function mountedRoutes(app: Express): string[] {
  const routes = new Set<string>();
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const path of paths) {
          for (const method of Object.keys(layer.route.methods)) {
            if (method === '_all') continue;
            routes.add(`${method.toUpperCase()} ${toOpenApiPath(path)}`);
          }
        }
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
  return [...routes].sort();
}

/** Every `METHOD /path` the document lists. */
export function documentedRoutes(document: OpenApiDocument): string[] {
  return Object.entries(document.paths ?? {})
    .flatMap(([path, item]) =>
      Object.keys(item ?? {})
        .filter((key) => ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'].includes(key))
        .map((method) => `${method.toUpperCase()} ${path}`),
    )
    .sort();
}

export interface CapturedResponse {
  /** The document of the gateway that answered. */
  document: OpenApiDocument;
  method: string;
  path: string;
  status: number;
  contentType: string;
  body: string;
}

const pointer = (part: string) => part.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * Checks responses against the document of the gateway that gave them: the operation's schema for
 * the status, else `default`.
 */
export function createResponseValidator() {
  const validators = new Map<OpenApiDocument, (response: CapturedResponse) => string | undefined>();
  return function problemsOf(response: CapturedResponse): string | undefined {
    let validate = validators.get(response.document);
    if (!validate) {
      validate = validatorFor(response.document);
      validators.set(response.document, validate);
    }
    return validate(response);
  };
}

function validatorFor(served: OpenApiDocument) {
  const document = served as unknown as {
    paths: Record<
      string,
      Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>
    >;
  };
  const ajv = new Ajv2020({ strict: false, allErrors: false });
  ajv.addSchema(document, 'openapi');
  const templates = Object.keys(document.paths).map((template) => ({
    template,
    // Express serves a route's path with a trailing slash too (not strict routing), and in any
    // case (not case-sensitive routing).
    pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}/?$`, 'i'),
  }));
  return function problemsOf(response: CapturedResponse): string | undefined {
    if (!response.contentType.startsWith('application/json')) return undefined;
    const path = response.path.split('?')[0] ?? '';
    const match = templates.find((t) => t.pattern.test(path));
    if (!match) {
      // An unknown route: the plain 404 envelope (Failure), as for any resource not found.
      const failure = ajv.getSchema('openapi#/components/schemas/Failure');
      const ok = response.status === 404 && !!failure && failure(JSON.parse(response.body));
      return ok ? undefined : `${response.method} ${path}: not in the document`;
    }
    const operation = document.paths[match.template]?.[response.method.toLowerCase()];
    if (!operation) return `${response.method} ${match.template}: not in the document`;
    const key = operation.responses[String(response.status)] ? String(response.status) : 'default';
    if (!operation.responses[key]?.content?.['application/json']) {
      return `${response.method} ${match.template} ${response.status}: no JSON response documented`;
    }
    const ref = `openapi#/paths/${pointer(match.template)}/${response.method.toLowerCase()}/responses/${key}/content/${pointer('application/json')}/schema`;
    const validate = ajv.getSchema(ref);
    if (!validate) return `${ref}: no schema`;
    let body: unknown;
    try {
      body = JSON.parse(response.body);
    } catch {
      return `${response.method} ${path} ${response.status}: body is not JSON`;
    }
    if (validate(body)) return undefined;
    return `${response.method} ${match.template} ${response.status}: ${ajv.errorsText(validate.errors)}`;
  };
}
