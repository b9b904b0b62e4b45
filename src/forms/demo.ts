import { resolve } from 'node:path';
import type { RequestHandler } from 'express';
import type { FormConfig } from '../config';
import { textResponse, type RouteDefinition } from '../http';

export const DEMO_FORM_ID = 'demo-contact';
const pages = resolve(__dirname, '../../examples/contact-form');

/**
 * The contact form `npm start` shows at /demo/contact (sandbox mode only, never in production):
 * the demo tenant's form to one fixed number, with a Turnstile check against the sandbox's
 * siteverify using Cloudflare's always-pass test secret.
 */
export function demoForm(tenant: string, verifyUrl: string): FormConfig {
  return {
    tenant,
    recipients: ['+61412345678'],
    template: 'Website enquiry from {{name}}: {{message}}',
    fields: {
      name: { required: true, maxLength: 60 },
      message: { required: true, maxLength: 200 },
      phone: { required: false, maxLength: 20 },
    },
    allowedOrigins: ['self'],
    successRedirect: '/demo/contact/thanks',
    overLength: 'truncate',
    maxSegments: 3,
    honeypotField: 'website',
    captcha: {
      provider: 'turnstile',
      secret: '1x0000000000000000000000000000000AA',
      verifyUrl,
      timeoutMs: 5000,
    },
    limits: { perIpPerHour: 20, perHour: 60, perDay: 500 },
  };
}

/** Serves the example page (examples/contact-form) and its script, styles and thank-you page. */
export function demoPageRoutes(): RouteDefinition[] {
  // helmet's default `no-referrer` makes a browser send `Origin: null` with a plain form post,
  // which the form's origin check refuses; same-origin keeps the page's origin on its own posts.
  const sameOriginReferrer: RequestHandler = (_req, res, next) => {
    res.setHeader('Referrer-Policy', 'same-origin');
    next();
  };
  const page = (path: string, file: string, summary: string, mediaType: string, what: string) =>
    ({
      method: 'get',
      path,
      access: 'public',
      summary: `${summary} (sandbox mode only)`,
      tags: ['sandbox'],
      responses: { 200: textResponse(mediaType, what) },
      middleware: [sameOriginReferrer],
      handler: (_req, res) => res.sendFile(resolve(pages, file)),
    }) satisfies RouteDefinition;
  return [
    page('/demo/contact', 'index.html', 'Demo contact form', 'text/html', 'Page'),
    page('/demo/contact/thanks', 'thanks.html', 'Demo thank-you page', 'text/html', 'Page'),
    page('/demo/contact/form.js', 'form.js', 'Demo form script', 'text/javascript', 'Script'),
    page('/demo/contact/form.css', 'form.css', 'Demo form styles', 'text/css', 'Styles'),
  ];
}
