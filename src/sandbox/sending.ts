// send-sms, bulk-send-sms and send-sms-template (the provider's validation, message ids, credits
// and a delivery report scheduled for every accepted recipient), and get-sms, a sent message's status.
import { randomBytes } from 'node:crypto';
import { formatProviderTime, parseProviderTime } from '../clock';
import { creditsFor, roundCredits, spendCredits } from './account';
import type { CallbackScheduler } from './callbacks';
import { isOptedOut } from './opt-outs';
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
import { findTemplate, renderTemplate } from './templates';
import type { SentMessage } from './types';

const SHARED_NUMBER = '61447023680';

/** What every send carries besides its recipients and text. */
interface SendEnvelope {
  from: string;
  customString: string;
  source: string;
  sendAt: number;
}

/** One recipient as given (`number`, raw) and the text it is to get. */
interface Addressed {
  number: unknown;
  text: string;
}

export function sendSms(state: SandboxState, callbacks: CallbackScheduler, body: unknown): ProviderReply {
  const input = objectBody(body);
  if (input instanceof ProviderReply) return input;
  const text = input.sms_text;
  if (typeof text !== 'string' || text.trim() === '') return fieldEmpty('sms_text is required');
  const numbers = recipientList(input.numbers);
  if (numbers instanceof ProviderReply) return numbers;
  const tooLong = lengthProblem(text);
  if (tooLong) return tooLong;
  const envelope = validateEnvelope(state, input);
  if (envelope instanceof ProviderReply) return envelope;
  return queue(
    state,
    callbacks,
    envelope,
    numbers.map((number) => ({ number, text })),
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

/**
 * A stored template to a list of recipient objects (`number` and the fields its placeholders
 * take). The provider shows no answer for it; the sandbox answers as send-sms does.
 */
export function sendSmsTemplate(
  state: SandboxState,
  callbacks: CallbackScheduler,
  body: unknown,
): ProviderReply {
  const input = objectBody(body);
  if (input instanceof ProviderReply) return input;
  if (typeof input.template_id !== 'string' || input.template_id === '')
    return fieldEmpty('template_id is required');
  const template = findTemplate(state, input.template_id);
  if (!template) return fieldInvalid('template_id is invalid');
  const recipients = recipientList(input.numbers);
  if (recipients instanceof ProviderReply) return recipients;
  const addressed = recipients.map((recipient): Addressed => {
    const fields =
      typeof recipient === 'object' && recipient !== null ? (recipient as Record<string, unknown>) : {};
    return { number: fields.number, text: renderTemplate(template.message, fields) };
  });
  for (const { text } of addressed) {
    const tooLong = lengthProblem(text);
    if (tooLong) return tooLong;
  }
  const envelope = validateEnvelope(state, input);
  if (envelope instanceof ProviderReply) return envelope;
  return queue(state, callbacks, envelope, addressed);
}

/**
 * Accepts what can be sent: numbers the provider cannot read are dropped, and so are numbers on the
 * opt-out list (the provider sends nothing to them); the rest are charged, queued and reported on.
 */
function queue(
  state: SandboxState,
  callbacks: CallbackScheduler,
  envelope: SendEnvelope,
  addressed: Addressed[],
): ProviderReply {
  const readable = addressed.flatMap(({ number, text }) => {
    const to = typeof number === 'string' ? normaliseNumber(number) : undefined;
    return to === undefined ? [] : [{ to, text }];
  });
  if (readable.length === 0) return new ProviderReply(400, 'RECIPIENTS_ERROR', 'No valid recipient numbers');
  const accepted = readable.filter(({ to }) => !isOptedOut(state, to));
  const credits = roundCredits(
    accepted.reduce(
      (sum, { to, text }) => sum + creditsFor(state, to, segmentCount(text), envelope.from !== ''),
      0,
    ),
  );
  // Undocumented for v3 (the v1 API answers 422 "balance is too low"): the whole call is refused.
  if (credits > state.smsBalance)
    return new ProviderReply(
      400,
      'INSUFFICIENT_CREDIT',
      'Your balance is too low for this request, please recharge.',
    );
  const date = formatProviderTime(state.clock.now(), state.timezone);
  const messages = accepted.map(({ to, text }) => {
    const message: SentMessage = {
      messageId: providerMessageId(),
      from: envelope.from || SHARED_NUMBER,
      to,
      body: text,
      customString: envelope.customString,
      source: envelope.source,
      sentAt: envelope.sendAt,
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
  const lowBalance = spendCredits(state, credits);
  return new ProviderReply(
    200,
    'SUCCESS',
    'Queued',
    {
      messages,
      total_numbers: addressed.length,
      success_number: accepted.length,
      credits_used: credits,
    },
    lowBalance,
  );
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

function objectBody(body: unknown): Record<string, unknown> | ProviderReply {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return fieldInvalid('Invalid request body');
  return body as Record<string, unknown>;
}

function recipientList(numbers: unknown): unknown[] | ProviderReply {
  if (numbers === undefined || (Array.isArray(numbers) && numbers.length === 0) || numbers === '') {
    return fieldEmpty('numbers is required');
  }
  const list: unknown[] = Array.isArray(numbers) ? (numbers as unknown[]) : [numbers];
  if (list.length > MAX_NUMBERS_PER_CALL) {
    return new ProviderReply(
      400,
      'RECIPIENTS_ERROR',
      `You can send to a maximum of ${MAX_NUMBERS_PER_CALL} numbers per call`,
    );
  }
  return list;
}

function lengthProblem(text: string): ProviderReply | undefined {
  const { unicode, length } = providerTextLength(text);
  if (length <= (unicode ? MAX_UNICODE_CHARS : MAX_GSM_CHARS)) return undefined;
  return fieldInvalid(
    `You can send the maximum message length of ${MAX_GSM_CHARS} characters, or send a message length of ${MAX_UNICODE_CHARS} characters for the Unicode character set.`,
  );
}

/** `from`, `custom_string`, `source`, `schedule_time` and `delay`, as every send takes them. */
function validateEnvelope(state: SandboxState, input: Record<string, unknown>): ProviderReply | SendEnvelope {
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
