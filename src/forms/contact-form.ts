import type { Identity } from '../auth';
import type { Clock } from '../clock';
import { refuseConfig, type Config, type FormConfig } from '../config';
import { ApiError, isApiError } from '../http';
import { dayPeriod } from '../limits';
import { normaliseRecipients } from '../messages';
import type { Logger } from '../observability';
import type { FormReplyRepository } from '../store';
import { TOKEN_FIELDS, verifyCaptcha } from './captcha';
import { cleanFields, renderText } from './submission';

export interface ContactFormDeps {
  config: Config;
  sendMessages: (identity: Identity, body: unknown) => Promise<unknown>;
  replies: FormReplyRepository;
  clock: Clock;
  logger: Logger;
}

/** A post that got through the door (known form, allowed origin, a body of fields), as the route read it. */
export interface ContactFormPost {
  formId: string;
  form: FormConfig;
  body: Record<string, unknown>;
  ip: string | undefined;
}

/** The form's limits for this post; each refuses with an ApiError (429, or 503 when its counters are down). */
export interface ContactFormLimits {
  perIp(): Promise<void>;
  perHour(): Promise<void>;
  perDay(): Promise<void>;
}

/** Both are answered alike, so a bot learns nothing from the answer. */
export type ContactFormOutcome = 'sent' | 'caught-by-honeypot';

/** The cleaned, declared fields of a post and the SMS text they make. */
interface Submission {
  values: Record<string, string>;
  text: string;
}

/**
 * A contact-form post becomes one SMS to the form's fixed recipients, billed to its tenant:
 * per-address limit → honeypot (answered like success, nothing sent) → declared fields only,
 * cleaned and rendered → CAPTCHA, failing closed → the form's hourly and daily caps → send →
 * optional reply to the submitter. (The route has already checked the form, the origin and the
 * body, before an Idempotency-Key replay.)
 */
export async function submitContactForm(
  deps: ContactFormDeps,
  post: ContactFormPost,
  limits: ContactFormLimits,
): Promise<ContactFormOutcome> {
  await limits.perIp();
  if (caughtByHoneypot(deps, post)) return 'caught-by-honeypot';
  const submission = readSubmission(post);
  await checkCaptcha(deps, post);
  await limits.perHour();
  await limits.perDay();
  await notifyRecipients(deps, post, submission);
  await replyToSubmitter(deps, post, submission);
  return 'sent';
}

function caughtByHoneypot({ logger }: ContactFormDeps, { formId, form, body }: ContactFormPost): boolean {
  const trap = body[form.honeypotField];
  const caught = typeof trap === 'string' ? trap !== '' : trap !== undefined;
  if (caught)
    logger.info({ form: formId }, 'form post caught by the honeypot: answered as success, nothing sent');
  return caught;
}

function readSubmission({ form, body }: ContactFormPost): Submission {
  const values = cleanFields(form, body);
  return { values, text: renderText(form, form.template, values) };
}

async function checkCaptcha({ logger }: ContactFormDeps, { formId, form, body, ip }: ContactFormPost) {
  if (form.captcha.provider === 'none') return;
  const fieldName = TOKEN_FIELDS[form.captcha.provider];
  const token = body[fieldName] ?? body.captchaToken;
  if (typeof token !== 'string' || token.trim() === '')
    throw new ApiError('FIELD_EMPTY', `${fieldName}: the CAPTCHA token is required`);
  if (token.length > 2048) throw new ApiError('FIELD_INVALID', `${fieldName}: too long for a CAPTCHA token`);
  const verdict = await verifyCaptcha(form.captcha, token, ip);
  if (!verdict.ok && verdict.unavailable) {
    logger.warn({ form: formId, reason: verdict.reason }, 'CAPTCHA could not be verified: failing closed');
    throw new ApiError(
      'UPSTREAM_UNAVAILABLE',
      'captcha: the verifier could not be reached; nothing was sent, try again',
    );
  }
  if (!verdict.ok) throw new ApiError('FORBIDDEN', `${fieldName}: ${verdict.reason}`);
}

/** One SMS to the form's recipients, sent as the form's tenant: its quota and the upstream budget apply. */
async function notifyRecipients(
  deps: ContactFormDeps,
  { formId, form }: ContactFormPost,
  submission: Submission,
) {
  const identity: Identity = { tenantId: form.tenant, scopes: ['sms:send'], subject: `form:${formId}` };
  await deps.sendMessages(identity, {
    to: form.recipients,
    text: submission.text,
    reference: `form:${formId}`,
  });
}

/** The optional confirmation: allowed countries only, one per number per day; never fails the post. */
async function replyToSubmitter(
  deps: ContactFormDeps,
  { formId, form }: ContactFormPost,
  { values }: Submission,
) {
  const { config, clock, logger } = deps;
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

/**
 * Refuses, at start-up, a form whose fixed recipients its tenant may not send to (a landline for a
 * tenant of mobiles, a country it may not reach, not a number at all): otherwise every post to the
 * form would fail, and only once a visitor posts. Checked here rather than when the configuration
 * is loaded because the check is the send's own (src/messages), which the configuration cannot import.
 */
export function checkFormRecipients(config: Config): void {
  const problems = Object.entries(config.forms).flatMap(([formId, form]) => {
    const tenant = config.tenants[form.tenant];
    if (!tenant) return []; // refused when the configuration was loaded
    return form.recipients.flatMap((recipient, i) => {
      try {
        normaliseRecipients(recipient, tenant, config.messages.defaultRegion, 1);
        return [];
      } catch (error) {
        if (!isApiError(error)) throw error;
        // The description names a request's field ("to: …"); here the field is the configuration key.
        return [`forms.${formId}.recipients[${i}]: ${error.description.replace(/^to: /, '')}`];
      }
    });
  });
  refuseConfig(problems);
}
