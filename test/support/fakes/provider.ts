import type { SendThroughBudget } from '../../../src/scheduler';
import type { ProviderSendRequest, ProviderSendResult } from '../../../src/upstream';

export interface FakeBudget {
  send: SendThroughBudget;
  /** Every request that reached the provider, in order. */
  calls: { tenantId: string; request: ProviderSendRequest }[];
}

/**
 * Stands in for the upstream budget and the provider: the slot is granted at once (`beforeCall`
 * runs, as the real budget runs it once the slot is granted) and `answer` decides what the provider said.
 */
export function createFakeBudget(
  answer: (request: ProviderSendRequest) => ProviderSendResult | Promise<ProviderSendResult> = (request) =>
    acceptAll(request),
): FakeBudget {
  const calls: FakeBudget['calls'] = [];
  return {
    calls,
    async send(tenantId, request, beforeCall) {
      await beforeCall?.();
      calls.push({ tenantId, request });
      return answer(request);
    },
  };
}

/** The provider's answer accepting every number, with ids p-<batch>-<n>. */
export function acceptAll(request: ProviderSendRequest, except: string[] = []): ProviderSendResult {
  const accepted = request.numbers.filter((n) => !except.includes(n));
  return {
    messages: accepted.map((to, i) => ({
      providerMessageId: `p-${request.customString}-${i}`,
      to,
      from: request.from,
    })),
    totalNumbers: request.numbers.length,
    successNumber: accepted.length,
    creditsUsed: accepted.length,
  };
}
