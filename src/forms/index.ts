// Public contact forms: anonymous posts become an SMS to the form's fixed recipients, behind origin
// checks, a server-side CAPTCHA that fails closed, a honeypot, per-IP and per-form limits and the
// tenant's quota.
export { formRoutes, type FormsDeps } from './routes';
export { checkFormRecipients } from './contact-form';
export { verifyCaptcha, TOKEN_FIELDS, type CaptchaVerdict } from './captcha';
export { cleanFields, renderText } from './submission';
export { demoForm, demoPageRoutes, DEMO_FORM_ID } from './demo';
