import type { Clock } from '../clock';
import type { ProviderSendRequest, ProviderSendResult, UpstreamClient } from '../upstream';
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
}

/** Sends one request through the budget, merged with others where possible. */
export type SendThroughBudget = (
  tenantId: string,
  request: ProviderSendRequest,
) => Promise<ProviderSendResult>;

interface Member {
  request: ProviderSendRequest;
  resolve: (result: ProviderSendResult) => void;
  reject: (error: unknown) => void;
}

interface Group {
  key: string;
  members: Member[];
  numbers: Set<string>;
  sealed: boolean;
}

/**
 * Coalescing: sends of one tenant with the same text, sender and schedule go out as one
 * send-sms call of up to `maxNumbers` numbers. A group stays open while it waits for its upstream
 * slot (and at least `windowMs`), so when slots are free a send leaves at once, and when they are
 * scarce everything that queued behind them leaves together. Each caller gets back only its own
 * numbers' results; if the call fails, every member gets the error. Groups never mix tenants.
 */
export function createSendCoalescer(options: CoalescerOptions): SendThroughBudget {
  const open = new Map<string, Group>();

  function callProvider(members: Member[]): Promise<ProviderSendResult> {
    const first = members[0]!.request;
    return options.upstream.sendSms({ ...first, numbers: members.flatMap((m) => m.request.numbers) });
  }

  function dispatch(tenantId: string, group: Group): void {
    options.budget
      .run(tenantId, () => {
        if (!group.sealed) {
          group.sealed = true;
          if (open.get(group.key) === group) open.delete(group.key);
        }
        return callProvider(group.members);
      })
      .then(
        (result) => {
          for (const member of group.members) member.resolve(shareOf(result, member.request.numbers));
        },
        (error: unknown) => {
          for (const member of group.members) member.reject(error);
        },
      );
  }

  return (tenantId, request) => {
    if (!options.enabled) return options.budget.run(tenantId, () => options.upstream.sendSms(request));
    const key = JSON.stringify([tenantId, request.text, request.from, request.scheduleTime ?? null]);
    return new Promise<ProviderSendResult>((resolve, reject) => {
      const member = { request, resolve, reject };
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

/** One caller's part of a merged answer: its numbers' messages, and its share of the credits. */
function shareOf(result: ProviderSendResult, numbers: string[]): ProviderSendResult {
  const mine = new Set(numbers);
  const messages = result.messages.filter((m) => mine.has(m.to));
  const share = result.successNumber > 0 ? messages.length / result.successNumber : 0;
  return {
    messages,
    totalNumbers: numbers.length,
    successNumber: messages.length,
    creditsUsed: Math.round(result.creditsUsed * share * 100) / 100,
    ...(result.lowBalanceAlert ? { lowBalanceAlert: result.lowBalanceAlert } : {}),
  };
}
