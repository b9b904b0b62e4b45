import type { Clock } from '../clock';
import type { ProviderSendRequest, ProviderSendResult, UpstreamClient, WriteGate } from '../upstream';
import type { UpstreamBudget } from './upstream-budget';

export interface CoalescerOptions {
  budget: UpstreamBudget;
  upstream: UpstreamClient;
  clock: Clock;
  enabled: boolean;
  /** Least time a group stays open for more sends; 0 = only while it waits for its slot. */
  windowMs: number;
  /** Numbers one provider call may carry. */
  maxNumbers: number;
  /** Also put different messages of a tenant into one bulk-send-sms call. */
  bulkSend: boolean;
}

/**
 * Sends one request through the budget, merged with others where possible. `beforeCall` runs once
 * the slot is granted, right before the provider call (a durable send records "sending" there);
 * if it fails, nothing is sent.
 */
export type SendThroughBudget = (
  tenantId: string,
  request: ProviderSendRequest,
  beforeCall?: () => Promise<void>,
) => Promise<ProviderSendResult>;

interface Member {
  request: ProviderSendRequest;
  beforeCall: (() => Promise<void>) | undefined;
  resolve: (result: ProviderSendResult) => void;
  reject: (error: unknown) => void;
}

interface Group {
  key: string;
  members: Member[];
  numbers: Set<string>;
  sealed: boolean;
}

/** Members with the same text, sender and schedule: one message to all their numbers. */
interface Message {
  request: ProviderSendRequest;
  members: Member[];
}

const messageKey = (r: ProviderSendRequest) => JSON.stringify([r.text, r.from, r.scheduleTime ?? null]);

/**
 * Coalescing: sends of one tenant with the same text, sender and schedule go out as one
 * send-sms call of up to `maxNumbers` numbers; with `bulkSend`, different messages of the tenant
 * go out together as one bulk-send-sms call. A group stays open while it waits for its upstream
 * slot (and at least `windowMs`), so when slots are free a send leaves at once, and when they are
 * scarce everything that queued behind them leaves together. Each caller gets back only its own
 * numbers' results; if the call fails, every member gets the error. Groups never mix tenants.
 */
export function createSendCoalescer(options: CoalescerOptions): SendThroughBudget {
  const open = new Map<string, Group>();

  function messagesOf(group: Group): Message[] {
    // A group of one (every send while slots are free) is its own message: no keys to work out.
    if (group.members.length === 1) {
      const [only] = group.members as [Member];
      return [{ request: only.request, members: [only] }];
    }
    // Each message's numbers are gathered once, then its request is built once: copying the
    // request at every member made a group of 1,000 one-number sends cost ~500,000 copies.
    const byKey = new Map<string, { members: Member[]; numbers: string[] }>();
    for (const member of group.members) {
      const key = messageKey(member.request);
      const message = byKey.get(key);
      if (message) {
        message.members.push(member);
        for (const number of member.request.numbers) message.numbers.push(number);
      } else {
        byKey.set(key, { members: [member], numbers: [...member.request.numbers] });
      }
    }
    return [...byKey.values()].map(({ members, numbers }) => {
      const first = (members[0] as Member).request;
      return { request: members.length === 1 ? first : { ...first, numbers }, members };
    });
  }

  /** One provider call for the whole group; resolves or rejects every member. */
  async function callProvider(messages: Message[], gate: WriteGate): Promise<void> {
    if (messages.length === 1) {
      const [only] = messages as [Message];
      const result = await options.upstream.sendSms(only.request, gate);
      const shares = sharesOf(result, only.members);
      only.members.forEach((member, i) => member.resolve(shares[i] as ProviderSendResult));
      return;
    }
    const answers = await options.upstream.bulkSendSms(
      messages.map((m) => m.request),
      gate,
    );
    messages.forEach((message, i) => {
      const answer = answers[i];
      if (answer === undefined || answer instanceof Error) {
        for (const member of message.members)
          member.reject(answer ?? new Error('no answer for this message'));
        return;
      }
      const shares = sharesOf(answer, message.members);
      message.members.forEach((member, j) => member.resolve(shares[j] as ProviderSendResult));
    });
  }

  function dispatch(tenantId: string, group: Group): void {
    options.budget
      .run(tenantId, async (gate) => {
        if (!group.sealed) {
          group.sealed = true;
          if (open.get(group.key) === group) open.delete(group.key);
        }
        await Promise.all(group.members.map((member) => member.beforeCall?.() ?? Promise.resolve()));
        return callProvider(messagesOf(group), gate);
      })
      .catch((error: unknown) => {
        for (const member of group.members) member.reject(error);
      });
  }

  return (tenantId, request, beforeCallOnce) => {
    // Runs once however often the call is tried (a stale slot, a provider 429 retry).
    const beforeCall = beforeCallOnce && once(beforeCallOnce);
    if (!options.enabled) {
      return options.budget.run(tenantId, async (gate) => {
        await beforeCall?.();
        return options.upstream.sendSms(request, gate);
      });
    }
    const key = options.bulkSend
      ? JSON.stringify([tenantId])
      : JSON.stringify([tenantId, messageKey(request)]);
    return new Promise<ProviderSendResult>((resolve, reject) => {
      const member = { request, beforeCall, resolve, reject };
      const current = open.get(key);
      const fits =
        current &&
        !current.sealed &&
        current.numbers.size + request.numbers.length <= options.maxNumbers &&
        !request.numbers.some((n) => current.numbers.has(n));
      if (current && fits) {
        current.members.push(member);
        for (const n of request.numbers) current.numbers.add(n);
        return;
      }
      const group: Group = { key, members: [member], numbers: new Set(request.numbers), sealed: false };
      open.set(key, group);
      if (options.windowMs > 0) options.clock.schedule(() => dispatch(tenantId, group), options.windowMs);
      else dispatch(tenantId, group);
    });
  };
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= fn());
}

/**
 * Each member's part of a merged answer (in the members' order): its numbers' messages, in the
 * answer's order, and its share of the credits. The answer's messages are indexed by number once:
 * filtering the whole answer for each member cost a 1,000-number group a million comparisons.
 */
function sharesOf(result: ProviderSendResult, members: readonly Member[]): ProviderSendResult[] {
  const atOf = new Map<string, number[]>();
  result.messages.forEach((message, at) => {
    const ats = atOf.get(message.to);
    if (ats === undefined) atOf.set(message.to, [at]);
    else ats.push(at);
  });
  return members.map(({ request: { numbers } }) => {
    const ats: number[] = [];
    for (const number of numbers.length === 1 ? numbers : new Set(numbers))
      for (const at of atOf.get(number) ?? []) ats.push(at);
    if (numbers.length > 1) ats.sort((a, b) => a - b);
    return shareOf(
      result,
      ats.map((at) => result.messages[at] as ProviderSendResult['messages'][number]),
      numbers,
    );
  });
}

/** One caller's part of a merged answer: its numbers' `messages`, and its share of the credits. */
function shareOf(
  result: ProviderSendResult,
  messages: ProviderSendResult['messages'],
  numbers: string[],
): ProviderSendResult {
  const share = result.successNumber > 0 ? messages.length / result.successNumber : 0;
  return {
    messages,
    totalNumbers: numbers.length,
    successNumber: messages.length,
    creditsUsed: Math.round(result.creditsUsed * share * 100) / 100,
    ...(result.lowBalanceAlert ? { lowBalanceAlert: result.lowBalanceAlert } : {}),
  };
}
