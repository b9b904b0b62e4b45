// send-sms and bulk-send-sms (the provider's validation, message ids, credits and a delivery
// report scheduled for every accepted recipient), and get-sms, a sent message's status.
import { randomBytes } from 'node:crypto';
import { formatProviderTime, parseProviderTime } from '../clock';
import type { CallbackScheduler } from './callbacks';
import {
  MAX_GSM_CHARS,
  MAX_NUMBERS_PER_CALL,
  MAX_UNICODE_CHARS,
  TAG_PATTERN,
  normaliseNumber,
  providerTextLength,
  segmentCount,
  senderIdProblem,
} from './provider-rules';
import { ProviderReply, fieldEmpty, fieldInvalid } from './reply';
import { echoNumber, type SandboxState } from './state';
import type { SentMessage } from './types';

const SHARED_NUMBER = '61447023680';

interface SendRequest {
  text: string;
  numbers: unknown[];
  from: string;
  customString: string;
  source: string;
  sendAt: number;
}

export function sendSms(state: SandboxState, callbacks: CallbackScheduler, body: unknown): ProviderReply {
  const request = validateSend(state, body);
  if (request instanceof ProviderReply) return request;
  const valid = request.numbers
    .map((n) => (typeof n === 'string' ? normaliseNumber(n) : undefined))
    .filter((n): n is string => n !== undefined);
  if (valid.length === 0) return new ProviderReply(400, 'RECIPIENTS_ERROR', 'No valid recipient numbers');
  const date = formatProviderTime(state.clock.now(), state.timezone);
  const messages = valid.map((to) => {
    const message: SentMessage = {
      messageId: providerMessageId(),
      from: request.from || SHARED_NUMBER,
      to,
      body: request.text,
      customString: request.customString,
      source: request.source,
      sentAt: request.sendAt,
      status: 'Queued',
    };
    state.sent.set(message.messageId, message);
    callbacks.scheduleReport(message);
    return {
      message_id: message.messageId,
      from: message.from,
      to: echoNumber(state, to),
      body: message.body,
      date,
      custom_string: message.customString,
      direction: 'out',
    };
  });
  const credits = valid.length * segmentCount(request.text);
  state.balance -= credits;
  const extra: Record<string, unknown> =
    state.balance < (state.options.lowBalanceThreshold ?? 100)
      ? {
          low_sms_alert: `Your account credits are low, you have ${state.balance.toFixed(2)} credits remaining, please top-up via the platform`,
        }
      : {};
  return new ProviderReply(
    200,
    'SUCCESS',
    'Queued',
    {
      messages,
      total_numbers: request.numbers.length,
      success_number: valid.length,
      credits_used: credits,
    },
    extra,
  );
}

/** Array in, one envelope per message out; a refused message refuses only itself. */
export function bulkSend(
  state: SandboxState,
  callbacks: CallbackScheduler,
  body: unknown,
): ProviderReply | ProviderReply[] {
  if (!Array.isArray(body) || body.length === 0)
    return fieldEmpty('Request body must be a non-empty array of messages');
  return (body as unknown[]).map((item) => sendSms(state, callbacks, item));
}

export function getSms(state: SandboxState, messageId: unknown): ProviderReply {
  if (typeof messageId !== 'string' || messageId === '') return fieldEmpty('message_id is required');
  const message = state.sent.get(messageId);
  if (!message) return new ProviderReply(400, 'NOT_FOUND', 'Record not found');
  return new ProviderReply(200, 'SUCCESS', 'Record found', [
    {
      to: echoNumber(state, message.to),
      body: message.body,
      sent_time: formatProviderTime(message.sentAt, state.timezone),
      message_id: message.messageId,
      status: message.status,
      subaccount_id: '',
    },
  ]);
}

function validateSend(state: SandboxState, body: unknown): ProviderReply | SendRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return fieldInvalid('Invalid request body');
  const input = body as Record<string, unknown>;
  const text = input.sms_text;
  if (typeof text !== 'string' || text.trim() === '') return fieldEmpty('sms_text is required');
  const numbers = input.numbers;
  if (numbers === undefined || (Array.isArray(numbers) && numbers.length === 0) || numbers === '') {
    return fieldEmpty('numbers is required');
  }
  const list = Array.isArray(numbers) ? numbers : [numbers];
  if (list.length > MAX_NUMBERS_PER_CALL) {
    return new ProviderReply(
      400,
      'RECIPIENTS_ERROR',
      `You can send to a maximum of ${MAX_NUMBERS_PER_CALL} numbers per call`,
    );
  }
  const { unicode, length } = providerTextLength(text);
  if (length > (unicode ? MAX_UNICODE_CHARS : MAX_GSM_CHARS)) {
    return fieldInvalid(
      `You can send the maximum message length of ${MAX_GSM_CHARS} characters, or send a message length of ${MAX_UNICODE_CHARS} characters for the Unicode character set.`,
    );
  }
  const from = input.from === undefined || input.from === null ? '' : input.from;
  if (typeof from !== 'string') return fieldInvalid('from is invalid');
  const senderProblem = senderIdProblem(from);
  if (senderProblem) return fieldInvalid(senderProblem);
  for (const tag of ['custom_string', 'source'] as const) {
    const value = input[tag];
    if (value !== undefined && value !== null && (typeof value !== 'string' || !TAG_PATTERN.test(value))) {
      return fieldInvalid(`${tag} may contain only letters, digits and dashes`);
    }
  }
  let sendAt = state.clock.now();
  if (input.schedule_time !== undefined && input.schedule_time !== '') {
    const at =
      typeof input.schedule_time === 'string'
        ? parseProviderTime(input.schedule_time, state.timezone)
        : undefined;
    if (at === undefined) return fieldInvalid('schedule_time must be in Y-m-d H:i:s format');
    // The provider's answer to a past schedule_time is undocumented: the sandbox sends at once.
    sendAt = Math.max(sendAt, at);
  }
  // With both, the delay counts from the scheduled time (the provider documents neither order).
  if (input.delay !== undefined && input.delay !== '') {
    const delay = Number(input.delay);
    if (!Number.isInteger(delay) || delay < 1 || delay > 1440)
      return fieldInvalid('delay must be between 1 and 1440 minutes');
    sendAt += delay * 60_000;
  }
  return {
    text,
    numbers: list,
    from,
    customString: typeof input.custom_string === 'string' ? input.custom_string : '',
    source: typeof input.source === 'string' ? input.source : '',
    sendAt,
  };
}

/** Upper-case hex in 8-4-4-4-12 groups, as the provider's message ids are. */
export function providerMessageId(): string {
  const hex = randomBytes(16).toString('hex').toUpperCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
