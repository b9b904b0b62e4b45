import { createLocalSlotSource, createSendCoalescer, createUpstreamBudget } from '../../src/scheduler';
import { UpstreamError, type ProviderSendRequest, type UpstreamClient } from '../../src/upstream';
import { settle, SteppingClock } from './stepping-clock';

function setup({
  enabled = true,
  windowMs = 0,
  callsPerSecond = 1,
  fail = false,
  bulkSend = false,
  // How the provider answers a send-sms call: its messages in reverse order, numbers not sent to left out.
  reversed = false,
  unsent = [] as string[],
} = {}) {
  const clock = new SteppingClock(0);
  const calls: ProviderSendRequest[] = [];
  const bulkCalls: ProviderSendRequest[][] = [];
  const answer = (request: ProviderSendRequest, call: number) => {
    const messages = request.numbers
      .map((to, i) => ({ providerMessageId: `P${call}-${i}`, to, from: '' }))
      .filter(({ to }) => !unsent.includes(to));
    if (reversed) messages.reverse();
    return {
      messages,
      totalNumbers: request.numbers.length,
      successNumber: messages.length,
      creditsUsed: messages.length,
    };
  };
  const upstream: UpstreamClient = {
    async sendSms(request) {
      calls.push(request);
      if (fail) throw new UpstreamError('rejected', 'provider refused send-sms');
      return answer(request, calls.length);
    },
    async bulkSendSms(requests) {
      bulkCalls.push(requests);
      return requests.map((request, i) =>
        request.text === 'refused'
          ? new UpstreamError('rejected', 'provider refused bulk-send-sms message')
          : answer(request, 100 + i),
      );
    },
    read: async () => ({ httpStatus: 200, body: {} }),
    markInboundRead: async () => undefined,
    close: () => undefined,
  };
  const budget = createUpstreamBudget({
    slots: createLocalSlotSource(callsPerSecond, 1000, clock),
    callsPerSecond,
    weightOf: () => 1,
    maxQueueWaitMs: 10_000,
    maxQueueLength: 1000,
    clock,
  });
  const send = createSendCoalescer({
    budget,
    upstream,
    clock,
    enabled,
    windowMs,
    maxNumbers: 1000,
    bulkSend,
  });
  const request = (numbers: string[], text = 'same', customString = 'b-1'): ProviderSendRequest => ({
    text,
    numbers,
    from: '',
    customString,
  });
  return { clock, calls, bulkCalls, send, request };
}

describe('coalescing sends', () => {
  it('sends at once when a slot is free, and merges what queues behind it into one call', async () => {
    const { clock, calls, send, request } = setup();
    const first = send('t', request(['+61400000001']));
    await settle();
    expect(calls).toHaveLength(1); // no added wait when the budget has room
    const queued = ['+61400000002', '+61400000003', '+61400000004'].map((n) => send('t', request([n])));
    await settle();
    expect(calls).toHaveLength(1);
    clock.advance(1001);
    await settle();
    expect(calls).toHaveLength(2);
    expect(calls[1]!.numbers).toEqual(['+61400000002', '+61400000003', '+61400000004']);
    const results = await Promise.all(queued);
    expect(results.map((r) => r.messages.map((m) => m.to))).toEqual([
      ['+61400000002'],
      ['+61400000003'],
      ['+61400000004'],
    ]);
    expect(results.map((r) => [r.totalNumbers, r.successNumber, r.creditsUsed])).toEqual([
      [1, 1, 1],
      [1, 1, 1],
      [1, 1, 1],
    ]);
    await first;
  });

  it("gives each member of a large merged call its own numbers' messages, in the answer's order", async () => {
    const { clock, calls, send, request } = setup({ reversed: true, unsent: ['+61400000999'] });
    const first = send('t', request(['+61400000000']));
    await settle();
    // 997 one-number sends, then one of three numbers (one of them not sent to), queued behind the first.
    const ones = Array.from({ length: 997 }, (_, i) => send('t', request([`+614${String(10_000_000 + i)}`])));
    const three = send('t', request(['+61400000997', '+61400000998', '+61400000999']));
    await settle();
    clock.advance(1001);
    await settle();
    expect(calls).toHaveLength(2);
    expect(calls[1]!.numbers).toHaveLength(1000); // maxNumbers: all of them in one call
    const results = await Promise.all(ones);
    results.forEach((result, i) => {
      expect(result.messages.map((m) => m.to)).toEqual([`+614${String(10_000_000 + i)}`]);
      expect([result.totalNumbers, result.successNumber, result.creditsUsed]).toEqual([1, 1, 1]);
    });
    const mine = await three;
    // The answer's order (reversed here), and only the numbers the provider sent to.
    expect(mine.messages.map((m) => m.to)).toEqual(['+61400000998', '+61400000997']);
    expect([mine.totalNumbers, mine.successNumber, mine.creditsUsed]).toEqual([3, 2, 2]);
    await first;
  });

  it('keeps a group open for windowMs even when a slot is free', async () => {
    const { clock, calls, send, request } = setup({ windowMs: 50, callsPerSecond: 15 });
    const sends = [send('t', request(['+61400000001'])), send('t', request(['+61400000002']))];
    clock.advance(49);
    await settle();
    expect(calls).toHaveLength(0);
    clock.advance(1);
    await settle();
    expect(calls.map((c) => c.numbers)).toEqual([['+61400000001', '+61400000002']]);
    await Promise.all(sends);
  });

  it('never merges different tenants, texts, or a number already in the group', async () => {
    const { clock, calls, send, request } = setup({ windowMs: 10, callsPerSecond: 15 });
    const sends = [
      send('t', request(['+61400000001'])),
      send('u', request(['+61400000002'])),
      send('t', request(['+61400000003'], 'other text')),
      send('t', request(['+61400000001'])),
    ];
    // Four calls, paced by the budget over a few tens of ms.
    await clock.run(300);
    expect(calls.map((c) => c.numbers).sort()).toEqual([
      ['+61400000001'],
      ['+61400000001'],
      ['+61400000002'],
      ['+61400000003'],
    ]);
    await Promise.all(sends);
  });

  it('gives every member the error when the merged call fails', async () => {
    const { clock, send, request } = setup({ windowMs: 10, callsPerSecond: 15, fail: true });
    const sends = [send('t', request(['+61400000001'])), send('t', request(['+61400000002']))].map((p) =>
      p.catch((e: unknown) => e),
    );
    clock.advance(10);
    await settle();
    expect(await Promise.all(sends)).toEqual([expect.any(UpstreamError), expect.any(UpstreamError)]);
  });

  it('with bulkSend, puts different messages of a tenant that wait together into one bulk-send-sms call', async () => {
    const { clock, calls, bulkCalls, send, request } = setup({ bulkSend: true });
    await send('t', request(['+61400000001'], 'first'));
    const waiting = [
      send('t', request(['+61400000002'], 'hello')),
      send('t', request(['+61400000003'], 'hello')),
      send('t', request(['+61400000004'], 'goodbye')),
      send('t', request(['+61400000005'], 'refused')).catch((e: unknown) => e),
    ];
    await settle();
    clock.advance(1001);
    await settle();
    expect(calls).toHaveLength(1);
    expect(bulkCalls).toHaveLength(1);
    expect(bulkCalls[0]!.map((r) => [r.text, r.numbers])).toEqual([
      ['hello', ['+61400000002', '+61400000003']],
      ['goodbye', ['+61400000004']],
      ['refused', ['+61400000005']],
    ]);
    const [a, b, c, refused] = await Promise.all(waiting);
    expect([a, b, c].map((r) => (r as { messages: { to: string }[] }).messages.map((m) => m.to))).toEqual([
      ['+61400000002'],
      ['+61400000003'],
      ['+61400000004'],
    ]);
    expect(refused).toBeInstanceOf(UpstreamError);
  });

  it('sends each request alone when switched off', async () => {
    const { clock, calls, send, request } = setup({ enabled: false, callsPerSecond: 15 });
    const sends = Promise.all([send('t', request(['+61400000001'])), send('t', request(['+61400000002']))]);
    await clock.run(100);
    await sends;
    expect(calls).toHaveLength(2);
  });
});
