import type { Clock } from '../clock';

export type DeliveryStatus = 'Delivered' | 'Failed' | 'Rejected' | 'Expired' | 'Aborted' | 'Unknown';

export interface SandboxOptions {
  /** APPKEYs the simulated account accepts. */
  appKeys: string[];
  /** Provider calls allowed per key in any rolling second; `Infinity` lifts the cap. */
  callsPerSecond: number;
  pageSize: number;
  /** Delay before a delivery report is posted for a sent message. */
  dlrDelayMs: number;
  dlrCallbackUrl?: string;
  inboundCallbackUrl?: string;
  /** The provider's overview page words auth as HTTP Basic; off by default, as the real API uses APPKEY. */
  acceptBasicAuth?: boolean;
  /** `live`: numbers echoed without '+', as captured from the real service; `doc`: with '+', as documented. */
  numberEcho?: 'live' | 'doc';
  /** `live`: empty inbox is 200 with responses ""; `doc`: 400 NOT_FOUND, as documented. */
  emptyInbox?: 'live' | 'doc';
  /** Final status a recipient's delivery report carries (default: Delivered). */
  finalStatusFor?: (recipient: string) => DeliveryStatus;
  /** Opening SMS credit balance of the simulated account (default 1 000 000). */
  balance?: number;
  /** Opening MMS credit balance (default 0). */
  mmsBalance?: number;
  /** A send answer carries `low_sms_alert` while the SMS balance is below this (default 100). */
  lowBalanceThreshold?: number;
  /**
   * Credits one segment costs, by the recipient's country calling code (longest prefix wins;
   * `*` for any other). Default: `{ '61': 1, '*': 2 }`.
   */
  creditsPerSegment?: Record<string, number>;
  /** Extra share a send with its own sender id (`from`) costs: the provider's "+33%" (default 0.33). */
  customSenderSurcharge?: number;
  /** Numbers on the account's opt-out list at the start. */
  optOuts?: string[];
  /** Inbound texts that put the sender on the opt-out list (case and punctuation ignored). */
  optOutKeywords?: string[];
  /** Templates the account has at the start (listed by get-template). */
  templates?: TemplateSeed[];
  timezone?: string;
  /** Most calls kept in the call record, and ten times that many sent messages (oldest dropped first). */
  maxRecords?: number;
  clock?: Clock;
  /** Randomness for fault injection, replaceable for deterministic tests. */
  random?: () => number;
}

export interface Faults {
  /** Added to every provider call before it is answered. */
  latencyMs: number;
  /** Share of calls (0..1) answered with HTTP 500. */
  errorRate: number;
  /** Share of calls (0..1) whose connection is reset without an answer. */
  resetRate: number;
  /** Never answer (the client must time out). */
  hang: boolean;
  /**
   * The call is processed at once (a send is accepted and its delivery reports scheduled) but
   * its answer is held this long: a provider slower than our timeout, whose reports can arrive first.
   */
  answerDelayMs: number;
  /** Each DLR and inbound callback is POSTed this many extra times (the provider's retry policy is undocumented). */
  callbackDuplicates: number;
  /**
   * DLR batches arrive out of order: reversed, and each final report followed by a stale
   * intermediate `Dispatched` for the same message (which must not undo the final status).
   */
  callbackOutOfOrder: boolean;
  /** Answer every call with this provider error instead of processing it. */
  respondWith: {
    httpStatus: number;
    status: string;
    msg: string;
    headers?: Record<string, string>;
    /** Answer this way only this many times, then behave normally again. */
    times?: number;
  } | null;
}

export interface SandboxCall {
  at: number;
  method: string;
  endpoint: string;
  /** The APPKEY header as received (kept in memory for tests; never served over HTTP). */
  appKey: string | undefined;
  authorization: string | undefined;
  query: Record<string, unknown>;
  body: unknown;
  status: number;
  metaStatus: string;
}

export interface SentMessage {
  messageId: string;
  from: string;
  to: string;
  body: string;
  customString: string;
  source: string;
  sentAt: number;
  status: string;
}

export interface InboundMessage {
  messageId: string;
  from: string;
  body: string;
  receivedAt: number;
  customString: string;
  originalMessageId: string;
  originalBody: string;
  read: boolean;
}

export interface DeliveryReport {
  message_id: string;
  status: DeliveryStatus | 'Dispatched';
  recipient: string;
  custom_string: string;
  source: string;
}

/** A template as a test or operator seeds it; the id is generated (32 hex) when not given. */
export interface TemplateSeed {
  templateId?: string;
  title: string;
  /** The text, with `{fname}`-style placeholders. */
  message: string;
}

export interface ProviderTemplate {
  templateId: string;
  title: string;
  message: string;
  createdAt: number;
}

export interface OptedOutContact {
  /** Digits without '+'. */
  number: string;
  optedOutAt: number;
}
