import { resolve } from 'node:path';
import { Router } from 'express';
import type { FormConfig } from '../config';

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
export function demoPages(): Router {
  const router = Router();
  const file = (name: string) => resolve(pages, name);
  // helmet's default `no-referrer` makes a browser send `Origin: null` with a plain form post,
  // which the form's origin check refuses; same-origin keeps the page's origin on its own posts.
  router.use('/demo/contact', (_req, res, next) => {
    res.setHeader('Referrer-Policy', 'same-origin');
    next();
  });
  router.get('/demo/contact', (_req, res) => res.sendFile(file('index.html')));
  router.get('/demo/contact/thanks', (_req, res) => res.sendFile(file('thanks.html')));
  router.get('/demo/contact/form.js', (_req, res) => res.sendFile(file('form.js')));
  router.get('/demo/contact/form.css', (_req, res) => res.sendFile(file('form.css')));
  return router;
}
