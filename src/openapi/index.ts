// The API's inventory: an OpenAPI 3.1 document assembled from the registered routes and the events
// the gateway sends, served with Swagger UI.
export { openApiDocument, type EventDefinition, type OpenApiDocument } from './document';
export { openApiRoutes } from './routes';
