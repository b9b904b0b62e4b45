import cors from 'cors';
import express, { type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import type { FormConfig } from '../config';
import { ApiError, jsonResponse, sendSuccess, successSchema, type RouteDefinition } from '../http';
import type { LimiterStores } from '../limits';
import { submitContactForm, type ContactFormDeps } from './contact-form';
import { createFormLimits } from './form-limits';

export interface FormsDeps extends ContactFormDeps {
  stores: LimiterStores;
  /** Idempotency-Key handling (JSON posts from a page's script), scoped to the form. */
  idempotent: RequestHandler;
}

/** What every accepted post is answered with, and (byte for byte) a post caught by the honeypot. */
const RECEIVED = { received: true };

/**
 * POST /v1/forms/:formId — the anonymous door, so every check is on by default and in this order:
 * known form (404) → Origin/Referer on the form's list (403, no CORS allow header) → body type and
 * size (415/413) → Idempotency-Key replay → the contact-form use case (`submitContactForm`: limits,
 * honeypot, fields, CAPTCHA, send, reply).
 */
export function formRoutes(deps: FormsDeps): RouteDefinition[] {
  const { config } = deps;
  const limitsFor = createFormLimits(config.forms, deps.stores, deps.logger);

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
      middleware: [knownForm, corsForForm, checkOrigin, ...acceptBody, deps.idempotent],
      handler: async (req, res) => {
        const [formId, form] = formOf(req);
        const post = { formId, form, body: req.body as Record<string, unknown>, ip: req.ip };
        await submitContactForm(deps, post, limitsFor(formId, req, res));
        answer(req, res, form);
      },
    },
  ];

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
