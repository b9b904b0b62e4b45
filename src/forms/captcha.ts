import axios from 'axios';
import { z } from 'zod';
import type { FormConfig } from '../config';

type CaptchaSettings = Exclude<FormConfig['captcha'], { provider: 'none' }>;

/** Where each provider's server-side check lives (reliability-security.md §6, CA). */
const VERIFY_URLS: Record<CaptchaSettings['provider'], string> = {
  turnstile: 'https://challenges.cloudflare.com/turnstile/v0/siteverify',
  hcaptcha: 'https://api.hcaptcha.com/siteverify',
  recaptcha: 'https://www.google.com/recaptcha/api/siteverify',
};

/** The form field each provider's widget fills in; `captchaToken` is accepted too, for JSON posts. */
export const TOKEN_FIELDS: Record<CaptchaSettings['provider'], string> = {
  turnstile: 'cf-turnstile-response',
  hcaptcha: 'h-captcha-response',
  recaptcha: 'g-recaptcha-response',
};

const answerSchema = z.object({
  success: z.boolean(),
  'error-codes': z.array(z.string()).optional(),
  hostname: z.string().optional(),
  action: z.string().optional(),
  score: z.number().optional(),
});

export type CaptchaVerdict =
  | { ok: true }
  /** The token was checked and refused. */
  | { ok: false; unavailable: false; reason: string }
  /** The check could not be made: the form fails closed. */
  | { ok: false; unavailable: true; reason: string };

/**
 * Server-side CAPTCHA verification, one protocol for Turnstile, hCaptcha and reCAPTCHA
 * (form-encoded `secret`, `response`, `remoteip`; JSON answer with `success`). It fails closed:
 * a verifier that is down, slow or answers anything but that shape counts as "not verified".
 */
export async function verifyCaptcha(
  settings: CaptchaSettings,
  token: string,
  remoteIp: string | undefined,
): Promise<CaptchaVerdict> {
  const params = new URLSearchParams({ secret: settings.secret, response: token });
  if (remoteIp) params.set('remoteip', remoteIp);
  if (settings.siteKey) params.set('sitekey', settings.siteKey);
  let answer: z.infer<typeof answerSchema>;
  try {
    const response = await axios.post(
      settings.verifyUrl ?? VERIFY_URLS[settings.provider],
      params.toString(),
      {
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        timeout: settings.timeoutMs,
        maxRedirects: 0,
        maxContentLength: 64 * 1024,
        validateStatus: () => true,
        proxy: false,
      },
    );
    const parsed = answerSchema.safeParse(response.data);
    if (response.status !== 200 || !parsed.success) {
      return {
        ok: false,
        unavailable: true,
        reason: `the verifier answered HTTP ${response.status} without a verdict`,
      };
    }
    answer = parsed.data;
  } catch {
    return { ok: false, unavailable: true, reason: 'the verifier could not be reached' };
  }
  if (!answer.success) {
    const codes = answer['error-codes']?.join(', ') || 'no reason given';
    return { ok: false, unavailable: false, reason: `refused by the verifier (${codes})` };
  }
  if (settings.expectedHostname && answer.hostname !== settings.expectedHostname) {
    return {
      ok: false,
      unavailable: false,
      reason: `solved on another hostname (${answer.hostname ?? 'none'})`,
    };
  }
  if (settings.expectedAction && answer.action !== settings.expectedAction) {
    return {
      ok: false,
      unavailable: false,
      reason: `solved for another action (${answer.action ?? 'none'})`,
    };
  }
  if (settings.minScore !== undefined && (answer.score === undefined || answer.score < settings.minScore)) {
    return {
      ok: false,
      unavailable: false,
      reason: `score ${answer.score ?? 'missing'} below ${settings.minScore}`,
    };
  }
  return { ok: true };
}
