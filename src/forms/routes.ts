import cors from 'cors';
import express, { type Request, type RequestHandler, type Response } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import type { Identity } from '../auth';
import type { Clock } from '../clock';
import type { Config, FormConfig } from '../config';
import { z } from 'zod';
import {
  ApiError,
  isApiError,
  jsonResponse,
  sendSuccess,
  successSchema,
  type RouteDefinition,
} from '../http';
import { dayPeriod, type LimiterStores } from '../limits';
import { normaliseRecipients } from '../messages';
import type { Logger } from '../observability';
import type { FormReplyRepository } from '../store';
import { TOKEN_FIELDS, verifyCaptcha } from './captcha';
import { cleanFields, renderText } from './submission';

export interface FormsDeps {
  config: Config;
  sendMessages: (identity: Identity, body: unknown) => Promise<unknown>;
  replies: FormReplyRepository;
  stores: LimiterStores;
  clock: Clock;
  logger: Logger;
  /** Idempotency-Key handling (JSON posts from a page's script), scoped to the form. */
  idempotent: RequestHandler;
}

/** Told to a browser when the limits' counters cannot be reached: about a Redis reconnect or restart. */
const LIMITER_RETRY_AFTER_SEC = 10;

/** What every accepted post is answered with, and (byte for byte) a post caught by the honeypot. */
const RECEIVED = { received: true };

/**
 * POST /v1/forms/:formId — the anonymous door, so every check is on by default and in this order:
 * known form (404) → Origin/Referer on the form's list (403, no CORS allow header) → body type and
 * size (415/413) → per-IP limit (429) → honeypot (answered like success, nothing sent) → declared
 * fields only, cleaned and capped (400) → CAPTCHA, failing closed (400/403/503) → the form's hourly
 * and daily caps (429) → one SMS to the form's fixed recipients, billed to its tenant (quota and
 * upstream budget apply) → optional reply to the submitter.
 */
export function formRoutes(deps: FormsDeps): RouteDefinition[] {
  const { config, clock, logger } = deps;
  const limits = new Map(
    Object.entries(config.forms).map(([id, form]) => [id, formLimits(id, form, deps.stores)]),
  );

  const formOf = (req: Request): [string, FormConfig] => {
    const formId = String(req.params.formId);
    const form = Object.hasOwn(config.forms, formId) ? config.forms[formId] : undefined;
    if (!form) throw new ApiError('NOT_FOUND', `formId: no form '${formId.slice(0, 64)}'`);
    return [formId, form];
  };

  const checkOrigin: RequestHandler = (req, _res, next) => {
    const [, form] = formOf(req);
    const origin = originOf(req);
    if (!origin)
      throw new ApiError(
        'FORBIDDEN',
        'Origin: missing (a form posts from a page; neither Origin nor Referer was sent)',
      );
    if (!isAllowedOrigin(form, origin, req))
      throw new ApiError('FORBIDDEN', `Origin: '${origin.slice(0, 100)}' may not post to this form`);
    next();
  };

  // Preflight and the CORS headers are answered only for the form's own origins.
  const corsForForm = cors((req, callback) => {
    const formId = String((req as Request).params.formId);
    const form = Object.hasOwn(config.forms, formId) ? config.forms[formId] : undefined;
    const origin = req.headers.origin;
    const allowed = !!form && !!origin && isAllowedOrigin(form, origin, req as Request);
    callback(null, {
      origin: allowed ? origin : false,
      methods: ['POST'],
      allowedHeaders: ['Content-Type'],
      maxAge: 600,
    });
  });

  const acceptBody: RequestHandler[] = [
    express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 50 }),
    (req, _res, next) => {
      if (!req.is('application/x-www-form-urlencoded') && !req.is('application/json')) {
        throw new ApiError(
          'UNSUPPORTED_MEDIA_TYPE',
          'Content-Type: expected application/x-www-form-urlencoded or application/json',
        );
      }
      if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) {
        throw new ApiError('FIELD_INVALID', 'body: expected the form fields as an object');
      }
      next();
    },
  ];

  const limit =
    (which: 'perIp' | 'perHour' | 'perDay'): RequestHandler =>
    (req, res, next) => {
      const [formId] = formOf(req);
      void limits.get(formId)![which](req, res, (error?: unknown) => {
        // Its own answers (429) are ApiErrors; anything else is the counter store failing.
        if (error === undefined || typeof error === 'string' || isApiError(error)) next(error);
        else next(limiterUnavailable(formId, which, error));
      });
    };

  /** The counters cannot be reached: the anonymous door stays shut, and says why. */
  const limiterUnavailable = (formId: string, which: string, error: unknown): ApiError => {
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
  };

  const answer = (req: Request, res: Response, form: FormConfig) => {
    if (form.successRedirect && req.is('application/x-www-form-urlencoded'))
      res.redirect(303, form.successRedirect);
    else sendSuccess(res, 201, RECEIVED);
  };

  // A preflight corsForForm did not answer (unknown form, unlisted or missing Origin) gets the
  // envelope, never Express's automatic text/plain answer to OPTIONS, and no CORS grant.
  const refusePreflight: RequestHandler = (req) => {
    formOf(req);
    const origin = req.get('origin');
    if (!origin) throw new ApiError('FORBIDDEN', 'Origin: missing (a preflight names the page’s origin)');
    throw new ApiError('FORBIDDEN', `Origin: '${origin.slice(0, 100)}' may not post to this form`);
  };

  /** Honeypot (answered like success, nothing sent) → declared fields only → CAPTCHA, failing closed. */
  const screenSubmission: RequestHandler = async (req, res, next) => {
    const [formId, form] = formOf(req);
    const body = req.body as Record<string, unknown>;
    const trap = body[form.honeypotField];
    if (typeof trap === 'string' ? trap !== '' : trap !== undefined) {
      logger.info({ form: formId }, 'form post caught by the honeypot: answered as success, nothing sent');
      answer(req, res, form);
      return;
    }
    res.locals.values = cleanFields(form, body);
    res.locals.text = renderText(form, form.template, res.locals.values as Record<string, string>);
    if (form.captcha.provider !== 'none') {
      const fieldName = TOKEN_FIELDS[form.captcha.provider];
      const token = body[fieldName] ?? body.captchaToken;
      if (typeof token !== 'string' || token.trim() === '')
        throw new ApiError('FIELD_EMPTY', `${fieldName}: the CAPTCHA token is required`);
      if (token.length > 2048)
        throw new ApiError('FIELD_INVALID', `${fieldName}: too long for a CAPTCHA token`);
      const verdict = await verifyCaptcha(form.captcha, token, req.ip);
      if (!verdict.ok && verdict.unavailable) {
        logger.warn(
          { form: formId, reason: verdict.reason },
          'CAPTCHA could not be verified: failing closed',
        );
        throw new ApiError(
          'UPSTREAM_UNAVAILABLE',
          'captcha: the verifier could not be reached; nothing was sent, try again',
        );
      }
      if (!verdict.ok) throw new ApiError('FORBIDDEN', `${fieldName}: ${verdict.reason}`);
    }
    next();
  };

  const knownForm: RequestHandler = (req, _res, next) => {
    formOf(req);
    next();
  };

  const formId = z.object({ formId: z.string() });
  const routes: RouteDefinition[] = [
    {
      method: 'options',
      path: '/v1/forms/:formId',
      access: 'public',
      summary:
        'CORS preflight: 204 with the CORS grant for the form’s origins; any other origin 403 FORBIDDEN',
      tags: ['forms'],
      request: { params: formId },
      responses: { 204: { description: 'Preflight answered' } },
      middleware: [corsForForm],
      handler: refusePreflight,
    },
    {
      method: 'post',
      path: '/v1/forms/:formId',
      access: 'public',
      summary: 'Website contact form (public): SMS to the form’s fixed recipients',
      tags: ['forms'],
      request: {
        params: formId,
        body: {
          // The fields are the form's own (declared in its config); they are checked by cleanFields.
          schema: z.record(z.string(), z.unknown()),
          contentTypes: ['application/x-www-form-urlencoded', 'application/json'],
        },
      },
      responses: {
        201: jsonResponse(successSchema(z.object({ received: z.literal(true) })), 'Received'),
        303: { description: 'Plain HTML post: redirected to the form’s successRedirect' },
      },
      middleware: [
        knownForm,
        corsForForm,
        checkOrigin,
        ...acceptBody,
        deps.idempotent,
        limit('perIp'),
        screenSubmission,
        limit('perHour'),
        limit('perDay'),
      ],
      handler: async (req, res) => {
        const [formId, form] = formOf(req);
        const identity: Identity = { tenantId: form.tenant, scopes: ['sms:send'], subject: `form:${formId}` };
        await deps.sendMessages(identity, {
          to: form.recipients,
          text: res.locals.text as string,
          reference: `form:${formId}`,
        });
        await replyToSubmitter(formId, form, res.locals.values as Record<string, string>);
        answer(req, res, form);
      },
    },
  ];

  /** The optional confirmation: allowed countries only, one per number per day; never fails the post. */
  async function replyToSubmitter(formId: string, form: FormConfig, values: Record<string, string>) {
    const reply = form.reply;
    const raw = reply?.enabled ? values[reply.field] : undefined;
    if (!reply || !raw) return;
    try {
      const tenant = { ...config.tenants[form.tenant]!, allowedCountries: reply.allowedCountries };
      const [number] = normaliseRecipients(raw, tenant, config.messages.defaultRegion, 1);
      const now = clock.now();
      const day = dayPeriod(now, config.quotas.timezone).key;
      if (!number || !(await deps.replies.claimDailyReply(formId, number, day, new Date(now).toISOString())))
        return;
      const identity: Identity = {
        tenantId: form.tenant,
        scopes: ['sms:send'],
        subject: `form:${formId}:reply`,
      };
      await deps.sendMessages(identity, {
        to: number,
        text: renderText(form, reply.template, values),
        reference: `form:${formId}:reply`,
      });
    } catch (error) {
      logger.info({ form: formId, err: error }, 'form reply to the submitter not sent');
    }
  }

  return routes;
}

/** The page's origin: the Origin header, else the origin of the Referer. */
function originOf(req: Request): string | undefined {
  const origin = req.get('origin');
  if (origin && origin !== 'null') return origin;
  const referer = req.get('referer');
  if (!referer) return undefined;
  try {
    return new URL(referer).origin;
  } catch {
    return undefined;
  }
}

function isAllowedOrigin(form: FormConfig, origin: string, req: Request): boolean {
  return form.allowedOrigins.some((allowed) =>
    allowed === 'self' ? origin === `${req.protocol}://${req.get('host') ?? ''}` : origin === allowed,
  );
}

function storeOption(stores: LimiterStores, prefix: string) {
  const store = stores.storeFor(prefix);
  return store ? { store } : {};
}

function formLimits(formId: string, form: FormConfig, stores: LimiterStores) {
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
