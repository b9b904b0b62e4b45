// The account's balance: what `account` shows, what a send costs and takes from it.
import { ProviderReply } from './reply';
import type { SandboxState } from './state';

/** Invented for the sandbox (the provider publishes no per-country table): AU 1, elsewhere 2. */
const DEFAULT_CREDITS_PER_SEGMENT: Record<string, number> = { '61': 1, '*': 2 };

export function account(state: SandboxState): ProviderReply {
  return new ProviderReply(200, 'SUCCESS', "Here's your account", {
    account_name: 'Sandbox',
    account_email: 'sandbox@example.invalid',
    sms_balance: state.smsBalance.toFixed(2),
    mms_balance: state.mmsBalance.toFixed(2),
  });
}

/**
 * Credits one message costs: each segment at the recipient country's price, plus the provider's
 * documented 33% for a sender id of one's own (a blank `from` is the shared number, at the base price).
 */
export function creditsFor(state: SandboxState, to: string, segments: number, customSender: boolean): number {
  const table = state.options.creditsPerSegment ?? DEFAULT_CREDITS_PER_SEGMENT;
  const prefix = Object.keys(table)
    .filter((code) => code !== '*' && to.startsWith(code))
    .sort((a, b) => b.length - a.length)[0];
  const perSegment = table[prefix ?? '*'] ?? 1;
  const surcharge = customSender ? 1 + (state.options.customSenderSurcharge ?? 0.33) : 1;
  return roundCredits(segments * perSegment * surcharge);
}

export function roundCredits(credits: number): number {
  return Math.round(credits * 100) / 100;
}

/** Takes the credits a send used; the answer then carries `low_sms_alert` if the balance ran low. */
export function spendCredits(state: SandboxState, credits: number): Record<string, unknown> {
  state.smsBalance = roundCredits(state.smsBalance - credits);
  return state.smsBalance < (state.options.lowBalanceThreshold ?? 100)
    ? {
        low_sms_alert: `Your account credits are low, you have ${state.smsBalance.toFixed(2)} credits remaining, please top-up via the platform`,
      }
    : {};
}

export function setBalance(state: SandboxState, balances: { sms?: number; mms?: number }): void {
  if (balances.sms !== undefined) state.smsBalance = balances.sms;
  if (balances.mms !== undefined) state.mmsBalance = balances.mms;
}
