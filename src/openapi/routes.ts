import { Router } from 'express';
import swaggerUi from 'swagger-ui-express';
import { openApiDocument } from './document';

/** GET /openapi.json (the document) and GET /docs (Swagger UI over it). */
export function openApiRouter(version: string): Router {
  const document = openApiDocument(version);
  const router = Router();
  router.get('/openapi.json', (_req, res) => res.json(document));
  router.use(
    '/docs',
    swaggerUi.serve,
    swaggerUi.setup(undefined, { swaggerOptions: { url: '/openapi.json' } }),
  );
  return router;
}
