// The account's inbox: a handset's SMS arrives, is POSTed to the inbound callback, and stays
// unread (listed by get-responses, 25 a page) until inbound-read or inbound-read-bulk. A STOP
// reply also puts its sender on the opt-out list.
import { formatProviderTime } from '../clock';
import type { CallbackScheduler } from './callbacks';
import { addOptOuts, isOptOutReply } from './opt-outs';
import { pageOf } from './paging';
import { normaliseNumber } from './provider-rules';
import { ProviderReply, fieldEmpty, fieldInvalid } from './reply';
import { echoNumber, type SandboxState } from './state';
import type { InboundMessage } from './types';

export interface InboundInput {
  from: string;
  body: string;
  originalMessageId?: string;
  customString?: string;
}

export function receiveInbound(
  state: SandboxState,
  callbacks: CallbackScheduler,
  input: InboundInput,
): InboundMessage {
  const original = input.originalMessageId ? state.sent.get(input.originalMessageId) : undefined;
  const message: InboundMessage = {
    messageId: String(6_000_000_000 + state.inbox.length + Math.floor(state.random() * 1000) * 1_000_000),
    from: normaliseNumber(input.from) ?? input.from.replace(/^\+/, ''),
    body: input.body,
    receivedAt: state.clock.now(),
    customString: input.customString ?? original?.customString ?? '',
    originalMessageId: input.originalMessageId ?? '',
    originalBody: original?.body ?? '',
    read: false,
  };
  state.inbox.push(message);
  if (isOptOutReply(state, message.body)) addOptOuts(state, [message.from]);
  callbacks.postInbound([
    {
      from: echoNumber(state, message.from),
      body: message.body,
      received_at: formatProviderTime(message.receivedAt, state.timezone),
      message_id: message.messageId,
      custom_string: message.customString,
      type: 'SMS',
      original_message_id: message.originalMessageId,
      original_body: message.originalBody,
    },
  ]);
  return message;
}

export function getResponses(state: SandboxState, rawPage: unknown): ProviderReply {
  const unread = state.inbox.filter((m) => !m.read);
  const page = pageOf(unread, rawPage, state.options.pageSize);
  if (page instanceof ProviderReply) return page;
  if (unread.length === 0) {
    return state.options.emptyInbox === 'doc'
      ? new ProviderReply(400, 'NOT_FOUND', 'No Response are available!')
      : new ProviderReply(200, 'SUCCESS', 'No Response are available!', {
          page: { count: '0', number: 0 },
          total: 0,
          responses: '',
        });
  }
  return new ProviderReply(200, 'SUCCESS', `You have ${unread.length} response(s)`, {
    page: page.block,
    total: String(unread.length),
    responses: page.rows.map((m) => ({
      from: echoNumber(state, m.from),
      body: m.body,
      received_at: formatProviderTime(m.receivedAt, state.timezone),
      custom_string: m.customString,
      original_body: m.originalBody,
      original_message_id: m.originalMessageId,
      message_id: m.messageId,
      subaccount_id: '',
    })),
  });
}

/** Marks one reply (`message_id`), or all received before `date_before`, or else all, as read. */
export function inboundRead(state: SandboxState, body: unknown): ProviderReply {
  const input = (typeof body === 'object' && body !== null ? body : {}) as {
    message_id?: unknown;
    date_before?: unknown;
  };
  if (typeof input.message_id === 'string' && input.message_id !== '') {
    for (const m of state.inbox) if (m.messageId === input.message_id) m.read = true;
  } else if (input.date_before !== undefined && input.date_before !== '') {
    const before =
      typeof input.date_before === 'number'
        ? input.date_before * 1000
        : typeof input.date_before === 'string'
          ? Date.parse(input.date_before)
          : Number.NaN;
    if (!Number.isFinite(before)) return fieldInvalid('date_before is invalid');
    for (const m of state.inbox) if (m.receivedAt < before) m.read = true;
  } else {
    for (const m of state.inbox) m.read = true;
  }
  return new ProviderReply(200, 'SUCCESS', 'Inbound messages have been marked as read.');
}

export function inboundReadBulk(state: SandboxState, body: unknown): ProviderReply {
  const ids = (body as { message_id?: unknown } | null)?.message_id;
  if (!Array.isArray(ids) || ids.length === 0) return fieldEmpty('message_id is required');
  const wanted = new Set(ids.map(String));
  for (const m of state.inbox) if (wanted.has(m.messageId)) m.read = true;
  return new ProviderReply(200, 'SUCCESS', 'Inbound messages have been marked as read.');
}
