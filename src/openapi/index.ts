// The API's inventory: an OpenAPI 3.1 document generated from zod schemas, served with Swagger UI.
export { openApiDocument } from './document';
export { openApiRouter } from './routes';
