// The form's three limits (per address per hour, per form per hour and per day) as
// express-rate-limit counters, shared across replicas through the limiter stores; an anonymous
// door fails closed when the counters cannot be reached.
import type { Request, Response } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import type { FormConfig } from '../config';
import { ApiError, isApiError } from '../http';
import type { LimiterStores } from '../limits';
import type { Logger } from '../observability';
import type { ContactFormLimits } from './contact-form';

/** Told to a browser when the limits' counters cannot be reached: about a Redis reconnect or restart. */
const LIMITER_RETRY_AFTER_SEC = 10;

type Limiter = ReturnType<typeof rateLimit>;
type FormLimiters = Record<keyof ContactFormLimits, Limiter>;

/** Builds every form's limiters once; `limitsFor` binds a form's limiters to one post. */
export function createFormLimits(forms: Record<string, FormConfig>, stores: LimiterStores, logger: Logger) {
  const limiters = new Map(Object.entries(forms).map(([id, form]) => [id, formLimiters(id, form, stores)]));

  /** The limits of one post: each counts it (and sets its RateLimit headers on the answer). */
  return function limitsFor(formId: string, req: Request, res: Response): ContactFormLimits {
    const check = (which: keyof ContactFormLimits) => () =>
      new Promise<void>((resolve, reject) => {
        void limiters.get(formId)![which](req, res, (error?: unknown) => {
          // Its own answers (429) are ApiErrors; anything else is the counter store failing.
          if (error === undefined) resolve();
          else reject(isApiError(error) ? error : limiterUnavailable(logger, formId, which, error));
        });
      });
    return { perIp: check('perIp'), perHour: check('perHour'), perDay: check('perDay') };
  };
}

/** The counters cannot be reached: the anonymous door stays shut, and says why. */
function limiterUnavailable(logger: Logger, formId: string, which: string, error: unknown): ApiError {
  // The outage itself is one warn line from the limiter stores; each refused post is only info.
  logger.info(
    { form: formId, limit: which, reason: error instanceof Error ? error.message : String(error) },
    'form limits unavailable (counter store unreachable): failing closed, nothing sent',
  );
  return new ApiError(
    'UPSTREAM_UNAVAILABLE',
    `form ${formId}: its abuse limiter is unavailable (Redis cannot be reached); nothing was sent, try again later`,
    { 'Retry-After': String(LIMITER_RETRY_AFTER_SEC) },
  );
}

function storeOption(stores: LimiterStores, prefix: string) {
  const store = stores.storeFor(prefix);
  return store ? { store } : {};
}

function formLimiters(formId: string, form: FormConfig, stores: LimiterStores): FormLimiters {
  const limiter = (
    name: string,
    windowSec: number,
    max: number,
    key: (req: Request) => string,
    what: string,
  ) =>
    rateLimit({
      windowMs: windowSec * 1000,
      limit: max,
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      identifier: `${formId}-${name}`,
      keyGenerator: key,
      // An anonymous door fails closed: with the counters unreachable, nobody posts.
      passOnStoreError: false,
      logger: stores.rateLimitLogger,
      validate: { keyGeneratorIpFallback: false },
      ...storeOption(stores, `form:${formId}:${name}:`),
      handler: (_req, _res, next) =>
        next(new ApiError('OVER_LIMIT', `form ${formId}: ${what}; retry after the Retry-After delay`)),
    });
  return {
    perIp: limiter(
      'ip',
      3600,
      form.limits.perIpPerHour,
      (req) => ipKeyGenerator(req.ip ?? ''),
      `at most ${form.limits.perIpPerHour} posts per hour from one address`,
    ),
    perHour: limiter(
      'hour',
      3600,
      form.limits.perHour,
      () => formId,
      `at most ${form.limits.perHour} messages per hour`,
    ),
    perDay: limiter(
      'day',
      86_400,
      form.limits.perDay,
      () => formId,
      `at most ${form.limits.perDay} messages per day`,
    ),
  };
}
