import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { jsonResponse, textResponse, type RouteDefinition } from '../http';
import type { OpenApiDocument } from './document';

/**
 * GET /openapi.json (the document) and GET /docs (Swagger UI over it). The document is read when
 * asked for, since it is assembled from every route, these two included.
 */
export function openApiRoutes(documentOf: () => OpenApiDocument): RouteDefinition[] {
  // Swagger UI's page and assets live under /docs/ (a request for /docs is redirected there).
  // Loaded on the first request for them: most gateways never serve /docs, and the module and
  // its page template need not sit in every process's memory.
  let ui: Promise<RequestHandler> | undefined;
  const loadUi = async (): Promise<RequestHandler> => {
    const { default: swaggerUi } = await import('swagger-ui-express');
    const router = Router();
    router.use(
      '/docs',
      swaggerUi.serve,
      swaggerUi.setup(undefined, { swaggerOptions: { url: '/openapi.json' } }),
    );
    return router;
  };
  const docs: RequestHandler = (req, res, next) => {
    ui ??= loadUi();
    ui.then((router) => router(req, res, next), next);
  };
  return [
    {
      method: 'get',
      path: '/openapi.json',
      access: 'public',
      summary: 'This document',
      tags: ['operations'],
      responses: { 200: jsonResponse(z.record(z.string(), z.unknown())) },
      handler: (_req, res) => {
        res.json(documentOf());
      },
    },
    {
      method: 'get',
      path: '/docs{/*asset}',
      access: 'public',
      summary: 'Interactive documentation',
      tags: ['operations'],
      responses: { 200: textResponse('text/html', 'Swagger UI') },
      handler: docs,
    },
  ];
}
