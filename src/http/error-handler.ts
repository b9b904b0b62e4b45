import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from '../observability';
import { failure } from './envelope';
import { ApiError, isApiError } from './errors';

/** Errors raised by express.json / body-parser carry a `type`; they are the client's fault. */
interface BodyParserError {
  type: string;
  /** The text that failed to parse. */
  body?: unknown;
  status?: number;
  limit?: number;
  charset?: string;
  encoding?: string;
}

function isBodyParserError(error: unknown): error is BodyParserError {
  return (
    typeof error === 'object' && error !== null && typeof (error as { type?: unknown }).type === 'string'
  );
}

function fromBodyParser(error: BodyParserError): ApiError | undefined {
  switch (error.type) {
    case 'entity.parse.failed':
      return new ApiError('FIELD_INVALID', `body: ${notAnObject(error.body) ?? 'malformed JSON'}`);
    case 'entity.too.large':
      return new ApiError('PAYLOAD_TOO_LARGE', `body: larger than the limit of ${error.limit ?? '?'} bytes`);
    case 'charset.unsupported':
      return new ApiError(
        'UNSUPPORTED_MEDIA_TYPE',
        `Content-Type: charset '${error.charset ?? '?'}' is not supported; use utf-8`,
      );
    case 'encoding.unsupported':
      return new ApiError(
        'UNSUPPORTED_MEDIA_TYPE',
        `Content-Encoding: '${error.encoding ?? '?'}' is not supported`,
      );
    case 'request.aborted':
    case 'request.size.invalid':
      return new ApiError('FIELD_INVALID', 'body: incomplete request body');
    case 'parameters.too.many':
      return new ApiError('PAYLOAD_TOO_LARGE', 'body: too many form fields');
    default:
      return undefined;
  }
}

/**
 * Strict JSON parsing refuses a body that is valid JSON but no object or array (`null`, `"hi"`)
 * with the same error as broken JSON; this tells the two apart, so the caller hears what is wrong.
 */
function notAnObject(text: unknown): string | undefined {
  if (typeof text !== 'string' || /^\s*[[{]/.test(text)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const got = value === null ? 'null' : `a ${typeof value}`;
  return `must be a JSON object, got ${got}`;
}

export function notFound(): RequestHandler {
  return (req, _res, next) =>
    next(new ApiError('NOT_FOUND', `no route ${req.method} ${req.path.slice(0, 100)}`));
}

/**
 * The one place errors become responses: an ApiError becomes its envelope; anything else is a
 * bug, logged with its stack and answered 500 with only the request id.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const known = isApiError(error) ? error : isBodyParserError(error) ? fromBodyParser(error) : undefined;
    const apiError =
      known ??
      new ApiError(
        'INTERNAL_ERROR',
        `internal error (request id ${typeof req.id === 'string' || typeof req.id === 'number' ? req.id : 'unknown'})`,
      );
    if (!known) logger.error({ err: error, reqId: req.id }, 'unhandled error');
    res.set(apiError.headers);
    res.status(apiError.status).json(failure(apiError.code, apiError.description));
  };
}
