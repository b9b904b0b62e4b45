import { Router } from 'express';
import { z } from 'zod';
import swaggerUi from 'swagger-ui-express';
import { jsonResponse, textResponse, type RouteDefinition } from '../http';
import type { OpenApiDocument } from './document';

/**
 * GET /openapi.json (the document) and GET /docs (Swagger UI over it). The document is read when
 * asked for, since it is assembled from every route, these two included.
 */
export function openApiRoutes(documentOf: () => OpenApiDocument): RouteDefinition[] {
  // Swagger UI's page and assets live under /docs/ (a request for /docs is redirected there).
  const ui = Router();
  ui.use('/docs', swaggerUi.serve, swaggerUi.setup(undefined, { swaggerOptions: { url: '/openapi.json' } }));
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
      handler: ui,
    },
  ];
}
