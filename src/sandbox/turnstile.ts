// Cloudflare Turnstile's siteverify with its published test secrets, so the demo contact form
// runs the real server-side CAPTCHA path offline: 1x… passes the dummy token, 2x… always fails,
// 3x… answers "already spent"; any other secret is unknown here.
import express, { type Express } from 'express';
import type { Clock } from '../clock';

/** Cloudflare's published Turnstile testing secrets and the dummy token its test site keys produce. */
export const TURNSTILE_TEST_SECRETS = {
  pass: '1x0000000000000000000000000000000AA',
  fail: '2x0000000000000000000000000000000AA',
  spent: '3x0000000000000000000000000000000AA',
};
export const TURNSTILE_DUMMY_TOKEN = 'XXXX.DUMMY.TOKEN.XXXX';

export function mountTurnstile(app: Express, path: string, clock: Clock): void {
  app.post(path, express.urlencoded({ extended: false }), (req, res) => {
    const { secret, response } = req.body as { secret?: string; response?: string };
    const fail = (code: string) => res.json({ success: false, 'error-codes': [code] });
    if (!response) return fail('missing-input-response');
    if (secret === TURNSTILE_TEST_SECRETS.pass) {
      if (response !== TURNSTILE_DUMMY_TOKEN) return fail('invalid-input-response');
      return res.json({
        success: true,
        'error-codes': [],
        challenge_ts: new Date(clock.now()).toISOString(),
        hostname: 'example.com',
      });
    }
    if (secret === TURNSTILE_TEST_SECRETS.fail) return fail('invalid-input-response');
    if (secret === TURNSTILE_TEST_SECRETS.spent) return fail('timeout-or-duplicate');
    return fail('invalid-input-secret');
  });
}
