import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Response } from 'express';
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

export interface AccessLogOptions {
  /**
   * 2xx/3xx and 429 answers are the bulk of the traffic and say little one by one: one in
   * `sampleEvery` is logged at info (with `sampled: sampleEvery`), the others only at debug.
   * Every other answer (5xx, other 4xx) is logged, always.
   */
  sampleEvery: number;
}

declare module 'node:http' {
  interface IncomingMessage {
    /** The request id (X-Request-Id), set by the access log first thing. */
    id?: string;
  }
}

/**
 * One access-log line per request, with the request id; no headers or bodies (they carry
 * credentials and numbers). Hand-rolled rather than pino-http: pino-http builds a child logger and
 * serialises the request for every request, even one whose line is below the level (~20 % of the
 * gateway's CPU under load with its write); this does the work only for a line that is written.
 *
 * Called for each request by the app's edge layer and by the refusals answered before Express: sets
 * the request id and writes the line when the answer ends. One 'close' listener per request: a
 * response emits 'close' after 'finish', and alone when the connection ended first (aborted).
 */
export function accessLogger(
  logger: Logger,
  options: AccessLogOptions,
): (req: IncomingMessage & { originalUrl?: string }, res: ServerResponse) => void {
  const every = Math.max(1, Math.floor(options.sampleEvery));
  let counter = 0;
  return (req, res) => {
    const id = requestId(req, res);
    req.id = id;
    const started = performance.now();
    res.once('close', () => {
      const status = res.statusCode;
      const aborted = !res.writableFinished;
      const chosen = chosenLevel(res);
      let level: AccessLogLevel | 'error' = chosen ?? levelOf(status);
      let sampled: number | undefined;
      if (chosen === undefined && !aborted && (status < 400 || status === 429)) {
        counter = (counter + 1) % every;
        if (counter === 0) {
          level = 'info';
          sampled = every;
        } else level = 'debug';
      }
      if (!logger.isLevelEnabled(level)) return;
      const path = loggablePath(req.originalUrl ?? req.url);
      logger[level](
        {
          req: { id, method: req.method, path },
          res: { statusCode: status },
          responseTime: Math.round(performance.now() - started),
          ...(sampled ? { sampled } : {}),
          ...(aborted ? { aborted: true } : {}),
        },
        `${req.method} ${path} ${aborted ? 'aborted' : status}`,
      );
    });
  };
}

/** 500 is a bug (its stack is on the 'unhandled error' line); 502/503/504 are the contract's answers to a failed dependency. */
function levelOf(status: number): AccessLogLevel | 'error' {
  if (status === 500) return 'error';
  if (status >= 500) return 'warn';
  if (status >= 400) return 'info';
  return 'debug';
}
