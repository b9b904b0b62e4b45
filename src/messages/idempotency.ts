import { createHash } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { isoTime, type Clock } from '../clock';
import { ApiError } from '../http';
import type { Logger } from '../observability';
import type { IdempotencyRepository } from '../store';

/**
 * Statuses after which the same request may simply be tried again, so the key is forgotten:
 * nothing was sent (409/429/503) or the gateway failed (500). A 504 is kept: the provider may have
 * sent it, and a replay must not send it twice.
 */
const RETRYABLE = new Set([409, 429, 500, 502, 503]);

/** `Idempotency-Key: "abc"` (a structured-field string) or `Idempotency-Key: abc`; printable ASCII, ≤ 255. */
export function parseIdempotencyKey(raw: string): string {
  const quoted = /^"((?:[^"\\]|\\["\\])*)"$/.exec(raw);
  const key = quoted ? (quoted[1] ?? '').replace(/\\(["\\])/g, '$1') : raw;
  if (key.length === 0 || key.length > 255 || !/^[\x20-\x7E]+$/.test(key)) {
    throw new ApiError('FIELD_INVALID', 'Idempotency-Key: expected 1–255 printable ASCII characters');
  }
  return key;
}

/**
 * Idempotency-Key on unsafe routes: the key is claimed (scoped to the tenant, with a fingerprint of
 * method, path and body) before any work, so a retry never sends twice — same key and body replay
 * the first answer (`Idempotent-Replayed: true`), another body is 422 IDEMPOTENCY_MISMATCH, and
 * while the first is still running the retry gets 409 CONFLICT. The answer is stored before it is
 * sent; keys are kept for `retentionSec`. Works across replicas through the shared store.
 */
export function idempotency(options: {
  repository: IdempotencyRepository;
  retentionSec: number;
  clock: Clock;
  logger: Logger;
  scopeOf: (req: Request) => string;
}): RequestHandler {
  const { repository, clock, logger } = options;
  return async (req, res, next) => {
    const header = req.get('idempotency-key');
    if (header === undefined) return next();
    const key = parseIdempotencyKey(header);
    const scope = options.scopeOf(req);
    const fingerprint = createHash('sha256')
      .update(`${req.method} ${req.baseUrl}${req.path}\n${JSON.stringify(req.body ?? null)}`)
      .digest('hex');
    const now = clock.now();
    const claim = await repository.claim(
      scope,
      key,
      fingerprint,
      new Date(now).toISOString(),
      new Date(now + options.retentionSec * 1000).toISOString(),
    );
    if (claim.kind === 'mismatch') {
      throw new ApiError(
        'IDEMPOTENCY_MISMATCH',
        'Idempotency-Key: already used with a different request body',
      );
    }
    if (claim.kind === 'in_flight') {
      throw new ApiError(
        'CONFLICT',
        'Idempotency-Key: a request with this key is still being processed; retry shortly',
      );
    }
    if (claim.kind === 'replay') {
      res.status(claim.status).set('Idempotent-Replayed', 'true').type('application/json').send(claim.body);
      return;
    }
    // Keep the answer before it leaves: a client that retries after a lost response gets it replayed.
    let recorded = false;
    res.on('finish', () => {
      // Answered without JSON (a redirect): nothing to replay, so the key is simply released.
      if (!recorded) void repository.release(scope, key).catch(() => undefined);
    });
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      recorded = true;
      const text = JSON.stringify(body);
      const settle = RETRYABLE.has(res.statusCode)
        ? repository.release(scope, key)
        : repository.complete(scope, key, res.statusCode, text);
      settle
        .catch((error: unknown) => logger.error({ err: error }, 'idempotency: could not record the answer'))
        .finally(() => json(body));
      return res;
    };
    next();
  };
}

export interface IdempotencySweeper {
  start(): void;
  /** No more sweeps; waits for one in progress to finish. */
  stop(): Promise<void>;
}

/**
 * A claim frees an expired key only when that same key comes back, so keys nobody reuses would stay
 * for ever: every `intervalMs` of the clock, expired keys are deleted in batches of `batchSize`,
 * each its own short statement so claims on other keys are never held up for long; a batch that
 * comes back short ends the sweep. The next sweep is timed from the end of this one, so sweeps never
 * overlap. Replicas sharing a store may each sweep: deleting an expired key twice is harmless.
 */
export function createIdempotencySweeper(options: {
  repository: Pick<IdempotencyRepository, 'deleteExpired'>;
  clock: Clock;
  logger: Logger;
  intervalMs: number;
  batchSize: number;
}): IdempotencySweeper {
  const { repository, clock, logger, intervalMs, batchSize } = options;
  let cancel: (() => void) | undefined;
  let running: Promise<void> | undefined;
  let stopped = true;

  async function sweep(): Promise<number> {
    let swept = 0;
    for (;;) {
      const deleted = await repository.deleteExpired(isoTime(clock), batchSize);
      swept += deleted;
      if (deleted < batchSize || stopped) return swept;
    }
  }

  function arm(): void {
    cancel = clock.schedule(() => {
      running = sweep()
        .then((swept) => {
          if (swept > 0) logger.debug({ swept }, 'idempotency: swept expired keys');
        })
        .catch((error: unknown) => logger.warn({ err: error }, 'idempotency: sweep failed; will try again'))
        .finally(() => {
          running = undefined;
          if (!stopped) arm();
        });
    }, intervalMs);
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      arm();
    },
    async stop() {
      stopped = true;
      cancel?.();
      await running;
    },
  };
}
