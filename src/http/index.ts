// The HTTP edge: the response envelope, error codes and the error handler, request ids and
// access logs, the HTTPS check, pagination, and health/readiness.
export { ApiError, isApiError, errorStatus, type ErrorCode } from './errors';
export { success, failure, sendSuccess, type Envelope, type PageBlock } from './envelope';
export { parsePage, pageBlock, PAGE_SIZE, type PageRequest } from './pagination';
export { requireJson } from './content-type';
export { MAX_JSON_DEPTH, exceedsJsonDepth, limitJsonDepth } from './json-depth';
export { accessLog, requestId } from './request-context';
export { requireHttps, isLoopbackAddress } from './https-check';
export { errorHandler, notFound } from './error-handler';
export { healthRouter, type ReadinessCheck } from './health';
