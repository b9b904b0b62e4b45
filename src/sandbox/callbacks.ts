// The provider's callbacks: delivery reports, due a while after each send and POSTed in batches
// from one timer, and inbound replies, POSTed as they arrive; a refused POST is retried.
import type { SandboxState } from './state';
import type { DeliveryReport, SentMessage } from './types';

// setTimeout holds at most 2^31-1 ms (~24.8 days); a longer wait fires at once. A report
// scheduled further ahead is waited for in steps of this.
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface CallbackScheduler {
  /** Schedules the message's final delivery report, due `dlrDelayMs` after it is sent. */
  scheduleReport(message: SentMessage): void;
  /** Sends every delivery report that is due now (tests drive this with their clock). */
  flushDueReports(): Promise<void>;
  /** POSTs an inbound payload to the inbound callback URL, if there is one. */
  postInbound(payload: unknown[]): void;
  /** Drops the reports not yet due. */
  forgetPending(): void;
  /** Cancels every timer (reports and retries). */
  stop(): void;
}

export function createCallbackScheduler(state: SandboxState): CallbackScheduler {
  const { clock } = state;
  let pendingReports: { dueAt: number; report: DeliveryReport }[] = [];
  let reportTimer: { at: number; cancel: () => void } | undefined;
  const retryTimers = new Set<() => void>();

  // A message's report is due dlrDelayMs after it is sent: now, or at its schedule_time/delay.
  function scheduleReport(message: SentMessage): void {
    const dueAt = Math.max(message.sentAt, clock.now()) + state.options.dlrDelayMs;
    const status = state.options.finalStatusFor?.(message.to) ?? 'Delivered';
    pendingReports.push({
      dueAt,
      report: {
        message_id: message.messageId,
        status,
        recipient: message.to,
        custom_string: message.customString,
        source: message.source,
      },
    });
    if (!reportTimer || dueAt < reportTimer.at) armReportTimer(dueAt);
  }

  // One timer, set for the earliest pending report. A timer may run before that time on the clock
  // (setTimeout against Date.now() can be a millisecond early), so every flush re-arms it for
  // whatever is still pending: no report waits for another message's timer, or forever.
  function armReportTimer(next: number): void {
    if (reportTimer?.at === next) return;
    reportTimer?.cancel();
    reportTimer = undefined;
    if (next === Infinity) return;
    const cancel = clock.schedule(
      () => {
        if (reportTimer?.cancel === cancel) reportTimer = undefined;
        void flushDueReports();
      },
      Math.min(MAX_TIMER_MS, Math.max(1, next - clock.now())),
    );
    reportTimer = { at: next, cancel };
  }

  async function flushDueReports(): Promise<void> {
    const now = clock.now();
    const due = pendingReports.filter((p) => p.dueAt <= now);
    if (due.length > 0) pendingReports = pendingReports.filter((p) => p.dueAt > now);
    armReportTimer(pendingReports.reduce((earliest, p) => Math.min(earliest, p.dueAt), Infinity));
    if (due.length === 0) return;
    const reports = due.map((item) => item.report);
    for (const report of reports) {
      const message = state.sent.get(report.message_id);
      if (message) message.status = report.status;
    }
    const batch = state.faults.callbackOutOfOrder
      ? [...reports].reverse().flatMap((report) => [report, { ...report, status: 'Dispatched' as const }])
      : reports;
    if (state.dlrCallbackUrl)
      await postWithDuplicates(state.dlrCallbackUrl, batch, () => state.reportsPosted.push(batch));
  }

  function postInbound(payload: unknown[]): void {
    if (state.inboundCallbackUrl) void postWithDuplicates(state.inboundCallbackUrl, payload, () => undefined);
  }

  async function postWithDuplicates(url: string, payload: unknown[], onDelivered: () => void) {
    for (let copy = 0; copy <= state.faults.callbackDuplicates; copy += 1)
      await post(url, payload, onDelivered);
  }

  // The provider's callback retry policy is undocumented; the sandbox retries a failed POST
  // with doubling gaps (1 s .. 64 s, 8 tries) so that a gateway restart loses nothing.
  async function post(url: string, payload: unknown[], onDelivered: () => void, attempt = 1): Promise<void> {
    const ok = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(10_000),
    }).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) {
      onDelivered();
      return;
    }
    if (attempt >= 8) return;
    const cancel = clock.schedule(
      () => {
        retryTimers.delete(cancel);
        void post(url, payload, onDelivered, attempt + 1);
      },
      1000 * 2 ** (attempt - 1),
    );
    retryTimers.add(cancel);
  }

  return {
    scheduleReport,
    flushDueReports,
    postInbound,
    forgetPending() {
      pendingReports = [];
      armReportTimer(Infinity);
    },
    stop() {
      for (const cancel of retryTimers) cancel();
      retryTimers.clear();
      reportTimer?.cancel();
      reportTimer = undefined;
    },
  };
}
