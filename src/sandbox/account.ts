// The account's own records: its balance, its opted-out contacts and its message templates.
import { ProviderReply } from './reply';
import type { SandboxState } from './state';

export function account(state: SandboxState): ProviderReply {
  return new ProviderReply(200, 'SUCCESS', "Here's your account", {
    account_name: 'Sandbox',
    account_email: 'sandbox@example.invalid',
    sms_balance: state.balance.toFixed(2),
    mms_balance: '0.00',
  });
}

export function emptyPagedList(noun: string): ProviderReply {
  return new ProviderReply(200, 'SUCCESS', `You have 0 ${noun}(s)`, {
    page: { count: 0, number: 1 },
    total: '0',
    responses: [],
  });
}
