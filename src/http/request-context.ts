import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pinoHttp } from 'pino-http';
import type { RequestHandler } from 'express';
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

/** One access-log line per request, with the request id; no headers or bodies (they carry credentials and numbers). */
export function accessLog(logger: Logger): RequestHandler {
  return pinoHttp({
    logger,
    genReqId: requestId,
    // 500 is a bug (its stack is on the 'unhandled error' line); 502/503/504 are the contract's
    // answers to a dependency that failed (provider, CAPTCHA verifier, limits' counters): warn.
    customLogLevel: (_req, res, error) =>
      error || res.statusCode === 500
        ? 'error'
        : res.statusCode >= 500
          ? 'warn'
          : res.statusCode >= 400
            ? 'info'
            : 'debug',
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
  }) as unknown as RequestHandler;
}
