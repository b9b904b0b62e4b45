import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pinoHttp } from 'pino-http';
import type { RequestHandler, Response } from 'express';
import type { Logger } from '../observability';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Takes a caller's X-Request-Id when it is a safe token, otherwise makes one; echoes it back. */
export function requestId(req: IncomingMessage, res: ServerResponse): string {
  const offered = req.headers['x-request-id'];
  const id = typeof offered === 'string' && REQUEST_ID.test(offered) ? offered : randomUUID();
  res.setHeader('X-Request-Id', id);
  return id;
}

/**
 * The path as logged: no query string (it may carry a ticket), and provider callback tokens
 * (`/callbacks/<provider>/<token>/…`, the only credential ever in a path) replaced.
 */
export function loggablePath(url: string | undefined): string {
  return (url ?? '').split('?')[0]!.replace(/(\/callbacks\/[^/]+\/)[^/]+/, '$1[REDACTED]');
}

type AccessLogLevel = 'debug' | 'info' | 'warn';

/**
 * For a route whose answer is expected although it is an error status (readiness failing while
 * draining): the level of its access-log line.
 */
export function setAccessLogLevel(res: Response, level: AccessLogLevel): void {
  res.locals.accessLogLevel = level;
}

function chosenLevel(res: ServerResponse): AccessLogLevel | undefined {
  return (res as Partial<Response>).locals?.accessLogLevel as AccessLogLevel | undefined;
}

/** pino-http invents an Error for every 5xx answer; its stack shows pino-http, not a fault of ours. */
function isInventedError(error: Error, res: ServerResponse): boolean {
  return error.message === `failed with status code ${res.statusCode}`;
}

/** One access-log line per request, with the request id; no headers or bodies (they carry credentials and numbers). */
export function accessLog(logger: Logger): RequestHandler {
  return pinoHttp({
    logger,
    genReqId: requestId,
    // 500 is a bug (its stack is on the 'unhandled error' line); 502/503/504 are the contract's
    // answers to a dependency that failed (provider, CAPTCHA verifier, limits' counters): warn.
    customLogLevel: (_req, res, error) =>
      error
        ? 'error'
        : (chosenLevel(res) ??
          (res.statusCode === 500
            ? 'error'
            : res.statusCode >= 500
              ? 'warn'
              : res.statusCode >= 400
                ? 'info'
                : 'debug')),
    // A 5xx answer is a deliberate envelope (provider down, draining); a real bug is logged with its
    // own stack by the error handler. The access line keeps only the status.
    customErrorObject: (_req, res, error, fields: Record<string, unknown>) =>
      isInventedError(error, res) ? { ...fields, err: undefined } : fields,
    serializers: {
      // pino-http makes up an Error (and a stack pointing into itself) for every 5xx; only a real
      // failure of the response itself is worth its message, and no access line carries a stack.
      err: (err: Error) =>
        /^failed with status code \d+$/.test(err.message)
          ? undefined
          : { type: err.name, message: err.message },
      req: (req: { id: unknown; method: string; url: string }) => ({
        id: req.id,
        method: req.method,
        path: loggablePath(req.url),
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    customSuccessMessage: (req, res) => `${req.method} ${loggablePath(req.url)} ${res.statusCode}`,
    customErrorMessage: (req, res) => `${req.method} ${loggablePath(req.url)} ${res.statusCode}`,
  });
}
