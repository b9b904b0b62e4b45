// The HTTP edge: the response envelope, error codes and the error handler, request ids and
// access logs, the HTTPS check, pagination, health/readiness, and the route table every
// capability registers its routes through.
export { ApiError, isApiError, errorStatus, type ErrorCode } from './errors';
export { success, failure, sendSuccess, type Envelope, type PageBlock } from './envelope';
export { parsePage, pageBlock, pageQuery, PAGE_SIZE, type PageRequest } from './pagination';
export { knownTenant, tenantFilter } from './tenant-param';
export { requireJson } from './content-type';
export { MAX_JSON_DEPTH, exceedsJsonDepth } from './json-depth';
export { accessLogger, requestId } from './request-context';
export { requireHttps } from './https-check';
export { errorHandler, notFound } from './error-handler';
export { healthRoutes, type ReadinessCheck } from './health';
export {
  errorCodeSchema,
  failureSchema,
  jsonResponse,
  pageBlockSchema,
  successSchema,
  textResponse,
} from './contract';
export {
  buildRouters,
  checkTables,
  parseWith,
  prefixOf,
  toOpenApiPath,
  type Access,
  type HttpMethod,
  type RequestSpec,
  type ResponseSpec,
  type RouteDefinition,
  type RouteGuards,
  type RouteTables,
  type SecurityRequirements,
} from './routes';
export { createHttpApp, securityHeaders, type HttpAppOptions } from './app';
export { serverObjectsOf, type ServerObjects } from './server-objects';
export { createFastRefusals, type FastRefusalOptions, type FastRefusals } from './fast-refusal';
