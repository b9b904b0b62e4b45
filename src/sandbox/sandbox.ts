import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { formatProviderTime, parseProviderTime, systemClock, type Clock } from '../clock';
import { equalsConstantTime } from '../security';
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
import type {
  DeliveryReport,
  Faults,
  InboundMessage,
  SandboxCall,
  SandboxOptions,
  SentMessage,
} from './types';

const SHARED_NUMBER = '61447023680';
// setTimeout holds at most 2^31-1 ms (~24.8 days); a longer wait fires at once. A report
// scheduled further ahead is waited for in steps of this.
const MAX_TIMER_MS = 2 ** 31 - 1;
const NO_FAULTS: Faults = {
  latencyMs: 0,
  errorRate: 0,
  resetRate: 0,
  hang: false,
  answerDelayMs: 0,
  respondWith: null,
  callbackDuplicates: 0,
  callbackOutOfOrder: false,
};

/** A provider answer: HTTP status, the `meta.status` code, `msg` and `data`, as Cellcast v3 shapes them. */
class ProviderReply {
  constructor(
    readonly httpStatus: number,
    readonly metaStatus: string,
    readonly msg: string,
    readonly data: unknown = [],
    readonly extra: Record<string, unknown> = {},
  ) {}

  body(): Record<string, unknown> {
    return {
      meta: { code: this.httpStatus, status: this.metaStatus },
      msg: this.msg,
      data: this.data,
      ...this.extra,
    };
  }
}

const fieldEmpty = (msg: string) => new ProviderReply(400, 'FIELD_EMPTY', msg);
const fieldInvalid = (msg: string) => new ProviderReply(400, 'FIELD_INVALID', msg);

export interface Sandbox {
  readonly app: express.Express;
  /** Base URL of the v3 API, e.g. http://127.0.0.1:4010/api/v3/ (after start). */
  readonly apiUrl: string;
  readonly url: string;
  readonly calls: SandboxCall[];
  readonly sent: Map<string, SentMessage>;
  readonly inbox: InboundMessage[];
  readonly reportsPosted: DeliveryReport[][];
  start(port?: number, host?: string): Promise<string>;
  stop(): Promise<void>;
  setFaults(faults: Partial<Faults>): void;
  setCallsPerSecond(limit: number): void;
  configureCallbacks(urls: { dlr?: string; inbound?: string }): void;
  injectInbound(input: {
    from: string;
    body: string;
    originalMessageId?: string;
    customString?: string;
  }): InboundMessage;
  /** Sends every delivery report that is due now (tests drive this with their clock). */
  flushDueReports(): Promise<void>;
  reset(): void;
}

/**
 * A faithful HTTP simulator of the Cellcast v3 API (docs/provider.md): APPKEY
 * check, 15 calls per key in any rolling second, the documented send/read endpoints and their
 * validation, upper-case 8-4-4-4-12 message ids, paged inbox, delivery reports POSTed as JSON
 * arrays of final statuses, fault injection, and a record of every call.
 */
export function createSandbox(options: SandboxOptions): Sandbox {
  const clock: Clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const timezone = options.timezone ?? 'Australia/Sydney';
  const echo = (digits: string) => (options.numberEcho === 'doc' ? `+${digits}` : digits);
  let callsPerSecond = options.callsPerSecond;
  let faults: Faults = { ...NO_FAULTS };
  let dlrCallbackUrl = options.dlrCallbackUrl;
  let inboundCallbackUrl = options.inboundCallbackUrl;
  let balance = options.balance ?? 1_000_000;

  const calls: SandboxCall[] = [];
  const sent = new Map<string, SentMessage>();
  const inbox: InboundMessage[] = [];
  const reportsPosted: DeliveryReport[][] = [];
  const admitted = new Map<string, number[]>();
  let pendingReports: { dueAt: number; report: DeliveryReport }[] = [];
  let reportTimer: { at: number; cancel: () => void } | undefined;
  const cancelTimers = new Set<() => void>();
  let server: Server | undefined;
  let baseUrl = '';

  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '5mb' }));

  // Test and operator controls. Not part of the provider's API; never exposes the APPKEY.
  app.get('/_sandbox/calls', (_req, res) => {
    res.json(
      calls.map(({ appKey, authorization, ...call }) => ({
        ...call,
        auth: appKey !== undefined ? 'appkey' : authorization?.startsWith('Basic ') ? 'basic' : 'none',
        keyValid: [appKey, basicUser(authorization)].some(
          (key) => key !== undefined && options.appKeys.some((k) => equalsConstantTime(k, key)),
        ),
      })),
    );
  });
  app.post('/_sandbox/faults', (req, res) => {
    setFaults(req.body as Partial<Faults>);
    res.json(faults);
  });
  // Cloudflare Turnstile's siteverify with its published test secrets, so the demo contact form
  // runs the real server-side CAPTCHA path offline: 1x… passes the dummy token, 2x… always fails,
  // 3x… answers "already spent"; any other secret is unknown here.
  app.post('/_sandbox/turnstile/v0/siteverify', express.urlencoded({ extended: false }), (req, res) => {
    const { secret, response } = req.body as { secret?: string; response?: string };
    const fail = (code: string) => res.json({ success: false, 'error-codes': [code] });
    if (!response) return fail('missing-input-response');
    if (secret === TURNSTILE_TEST_SECRETS.pass) {
      if (response !== TURNSTILE_DUMMY_TOKEN) return fail('invalid-input-response');
      return res.json({
        success: true,
        'error-codes': [],
        challenge_ts: new Date(clock.now()).toISOString(),
        hostname: 'example.com',
      });
    }
    if (secret === TURNSTILE_TEST_SECRETS.fail) return fail('invalid-input-response');
    if (secret === TURNSTILE_TEST_SECRETS.spent) return fail('timeout-or-duplicate');
    return fail('invalid-input-secret');
  });
  app.post('/_sandbox/reset', (_req, res) => {
    reset();
    res.json({ reset: true });
  });
  app.post('/_sandbox/limit', (req, res) => {
    const limit = Number((req.body as { callsPerSecond?: unknown }).callsPerSecond);
    callsPerSecond = Number.isFinite(limit) && limit > 0 ? limit : Infinity;
    res.json({ callsPerSecond: String(callsPerSecond) });
  });
  app.post('/_sandbox/inbound', (req, res) => {
    const body = req.body as { from?: string; body?: string; originalMessageId?: string };
    res.json(
      injectInbound({
        from: body.from ?? '61400000000',
        body: body.body ?? '',
        originalMessageId: body.originalMessageId,
      }),
    );
  });

  app.use('/api/v3', applyFaults, authenticate, throttle);
  app.post('/api/v3/send-sms', (req, res) => reply(req, res, sendSms(req.body)));
  app.post('/api/v3/bulk-send-sms', (req, res) => bulkSend(req, res));
  app.get('/api/v3/get-sms', (req, res) => reply(req, res, getSms(req.query.message_id)));
  app.get('/api/v3/get-responses', (req, res) => reply(req, res, getResponses(req.query.page)));
  app.post('/api/v3/inbound-read', (req, res) => reply(req, res, inboundRead(req.body)));
  app.post('/api/v3/inbound-read-bulk', (req, res) => reply(req, res, inboundReadBulk(req.body)));
  app.get('/api/v3/account', (req, res) => reply(req, res, account()));
  app.get('/api/v3/get-optout', (req, res) => reply(req, res, emptyPagedList('optout contact')));
  app.get('/api/v3/get-template', (req, res) => reply(req, res, emptyPagedList('Template')));
  app.use('/api/v3', (req, res) =>
    reply(req, res, new ProviderReply(404, 'NOT_FOUND', 'Endpoint not found')),
  );
  app.use((error: Error & { type?: string }, req: Request, res: Response, _next: NextFunction) => {
    reply(
      req,
      res,
      fieldInvalid(error.type === 'entity.parse.failed' ? 'Invalid JSON body' : 'Invalid request'),
    );
  });

  const maxRecords = options.maxRecords ?? 10_000;

  // A long-running sandbox (npm start) must not grow without bound.
  function trimRecords(): void {
    if (calls.length > maxRecords) calls.splice(0, calls.length - maxRecords);
    for (const id of sent.keys()) {
      if (sent.size <= maxRecords * 10) break;
      sent.delete(id);
    }
  }

  function record(req: Request, status: number, metaStatus: string): void {
    trimRecords();
    calls.push({
      at: clock.now(),
      method: req.method,
      endpoint: req.path.replace(/^\/api\/v3\//, '').replace(/^\//, ''),
      appKey: req.header('APPKEY'),
      authorization: req.header('Authorization'),
      query: { ...req.query },
      body: req.body as unknown,
      status,
      metaStatus,
    });
  }

  function reply(req: Request, res: Response, answer: ProviderReply): void {
    record(req, answer.httpStatus, answer.metaStatus);
    res.status(answer.httpStatus).json(answer.body());
  }

  function applyFaults(req: Request, res: Response, next: NextFunction): void {
    if (faults.hang) {
      record(req, 0, 'HANG');
      return;
    }
    if (faults.resetRate > 0 && random() < faults.resetRate) {
      record(req, 0, 'RESET');
      req.socket.resetAndDestroy();
      return;
    }
    const proceed = () => {
      if (faults.respondWith) {
        const { httpStatus, status, msg, headers, times } = faults.respondWith;
        if (times !== undefined)
          faults.respondWith = times > 1 ? { ...faults.respondWith, times: times - 1 } : null;
        res.set(headers ?? {});
        reply(req, res, new ProviderReply(httpStatus, status, msg));
        return;
      }
      if (faults.errorRate > 0 && random() < faults.errorRate) {
        reply(req, res, new ProviderReply(500, 'SERVER_ERROR', 'Internal Server Error'));
        return;
      }
      if (faults.answerDelayMs > 0) holdAnswer(res, faults.answerDelayMs);
      next();
    };
    if (faults.latencyMs > 0) setTimeout(proceed, faults.latencyMs);
    else proceed();
  }

  /** Every answer goes through res.send (res.json included): sent late, after the work is done. */
  function holdAnswer(res: Response, delayMs: number): void {
    const send = res.send.bind(res);
    res.send = (body?: unknown) => {
      setTimeout(() => send(body), delayMs);
      return res;
    };
  }

  function authenticate(req: Request, res: Response, next: NextFunction): void {
    const presented = presentedKey(req);
    if (presented === undefined) {
      reply(req, res, new ProviderReply(401, 'AUTH_FAILED_NO_DATA', 'APPKEY header is missing'));
    } else if (!options.appKeys.some((key) => equalsConstantTime(key, presented))) {
      reply(req, res, new ProviderReply(401, 'AUTH_FAILED', 'APPKEY you have provided is invalid'));
    } else {
      res.locals.appKey = presented;
      next();
    }
  }

  function presentedKey(req: Request): string | undefined {
    const header = req.header('APPKEY');
    if (header) return header;
    return options.acceptBasicAuth ? basicUser(req.header('Authorization')) : undefined;
  }

  // A sliding log per key: the 16th call inside any rolling second is refused. Only admitted
  // calls enter the log (a refused call is not processed, so it uses no capacity).
  function throttle(req: Request, res: Response, next: NextFunction): void {
    const key = res.locals.appKey as string;
    const now = clock.now();
    const log = (admitted.get(key) ?? []).filter((at) => at > now - 1000);
    if (log.length >= callsPerSecond) {
      admitted.set(key, log);
      reply(
        req,
        res,
        new ProviderReply(429, 'OVER_LIMIT', 'You have exceeded the limit of API calls per second'),
      );
      return;
    }
    log.push(now);
    admitted.set(key, log);
    next();
  }

  function validateSend(body: unknown):
    | ProviderReply
    | {
        text: string;
        numbers: unknown[];
        from: string;
        customString: string;
        source: string;
        sendAt: number;
      } {
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
    let sendAt = clock.now();
    if (input.schedule_time !== undefined && input.schedule_time !== '') {
      const at =
        typeof input.schedule_time === 'string'
          ? parseProviderTime(input.schedule_time, timezone)
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

  function sendSms(body: unknown): ProviderReply {
    const request = validateSend(body);
    if (request instanceof ProviderReply) return request;
    const valid = request.numbers
      .map((n) => (typeof n === 'string' ? normaliseNumber(n) : undefined))
      .filter((n): n is string => n !== undefined);
    if (valid.length === 0) return new ProviderReply(400, 'RECIPIENTS_ERROR', 'No valid recipient numbers');
    const date = formatProviderTime(clock.now(), timezone);
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
      sent.set(message.messageId, message);
      scheduleReport(message);
      return {
        message_id: message.messageId,
        from: message.from,
        to: echo(to),
        body: message.body,
        date,
        custom_string: message.customString,
        direction: 'out',
      };
    });
    const credits = valid.length * segmentCount(request.text);
    balance -= credits;
    const extra: Record<string, unknown> =
      balance < (options.lowBalanceThreshold ?? 100)
        ? {
            low_sms_alert: `Your account credits are low, you have ${balance.toFixed(2)} credits remaining, please top-up via the platform`,
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

  function bulkSend(req: Request, res: Response): void {
    if (!Array.isArray(req.body) || req.body.length === 0) {
      reply(req, res, fieldEmpty('Request body must be a non-empty array of messages'));
      return;
    }
    const answers = (req.body as unknown[]).map((item) => sendSms(item));
    record(req, 200, 'SUCCESS');
    res.status(200).json(answers.map((answer) => answer.body()));
  }

  function getSms(messageId: unknown): ProviderReply {
    if (typeof messageId !== 'string' || messageId === '') return fieldEmpty('message_id is required');
    const message = sent.get(messageId);
    if (!message) return new ProviderReply(400, 'NOT_FOUND', 'Record not found');
    return new ProviderReply(200, 'SUCCESS', 'Record found', [
      {
        to: echo(message.to),
        body: message.body,
        sent_time: formatProviderTime(message.sentAt, timezone),
        message_id: message.messageId,
        status: message.status,
        subaccount_id: '',
      },
    ]);
  }

  function getResponses(rawPage: unknown): ProviderReply {
    const page = rawPage === undefined ? 1 : Number(rawPage);
    if (!Number.isInteger(page) || page < 1) return fieldInvalid('page is invalid');
    const unread = inbox.filter((m) => !m.read);
    if (unread.length === 0) {
      return options.emptyInbox === 'doc'
        ? new ProviderReply(400, 'NOT_FOUND', 'No Response are available!')
        : new ProviderReply(200, 'SUCCESS', 'No Response are available!', {
            page: { count: '0', number: 0 },
            total: 0,
            responses: '',
          });
    }
    const size = options.pageSize;
    const responses = unread.slice((page - 1) * size, page * size).map((m) => ({
      from: echo(m.from),
      body: m.body,
      received_at: formatProviderTime(m.receivedAt, timezone),
      custom_string: m.customString,
      original_body: m.originalBody,
      original_message_id: m.originalMessageId,
      message_id: m.messageId,
      subaccount_id: '',
    }));
    return new ProviderReply(200, 'SUCCESS', `You have ${unread.length} response(s)`, {
      page: { count: Math.ceil(unread.length / size), number: page },
      total: String(unread.length),
      responses,
    });
  }

  function inboundRead(body: unknown): ProviderReply {
    const input = (typeof body === 'object' && body !== null ? body : {}) as {
      message_id?: unknown;
      date_before?: unknown;
    };
    if (typeof input.message_id === 'string' && input.message_id !== '') {
      for (const m of inbox) if (m.messageId === input.message_id) m.read = true;
    } else if (input.date_before !== undefined && input.date_before !== '') {
      const before =
        typeof input.date_before === 'number'
          ? input.date_before * 1000
          : typeof input.date_before === 'string'
            ? Date.parse(input.date_before)
            : Number.NaN;
      if (!Number.isFinite(before)) return fieldInvalid('date_before is invalid');
      for (const m of inbox) if (m.receivedAt < before) m.read = true;
    } else {
      for (const m of inbox) m.read = true;
    }
    return new ProviderReply(200, 'SUCCESS', 'Inbound messages have been marked as read.');
  }

  function inboundReadBulk(body: unknown): ProviderReply {
    const ids = (body as { message_id?: unknown } | null)?.message_id;
    if (!Array.isArray(ids) || ids.length === 0) return fieldEmpty('message_id is required');
    const wanted = new Set(ids.map(String));
    for (const m of inbox) if (wanted.has(m.messageId)) m.read = true;
    return new ProviderReply(200, 'SUCCESS', 'Inbound messages have been marked as read.');
  }

  function account(): ProviderReply {
    return new ProviderReply(200, 'SUCCESS', "Here's your account", {
      account_name: 'Sandbox',
      account_email: 'sandbox@example.invalid',
      sms_balance: balance.toFixed(2),
      mms_balance: '0.00',
    });
  }

  function emptyPagedList(noun: string): ProviderReply {
    return new ProviderReply(200, 'SUCCESS', `You have 0 ${noun}(s)`, {
      page: { count: 0, number: 1 },
      total: '0',
      responses: [],
    });
  }

  // A message's report is due dlrDelayMs after it is sent: now, or at its schedule_time/delay.
  function scheduleReport(message: SentMessage): void {
    const dueAt = Math.max(message.sentAt, clock.now()) + options.dlrDelayMs;
    const status = options.finalStatusFor?.(message.to) ?? 'Delivered';
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
      const message = sent.get(report.message_id);
      if (message) message.status = report.status;
    }
    const batch = faults.callbackOutOfOrder
      ? [...reports].reverse().flatMap((report) => [report, { ...report, status: 'Dispatched' as const }])
      : reports;
    if (dlrCallbackUrl)
      await postCallbackWithDuplicates(dlrCallbackUrl, batch, () => reportsPosted.push(batch));
  }

  function injectInbound(input: {
    from: string;
    body: string;
    originalMessageId?: string;
    customString?: string;
  }): InboundMessage {
    const original = input.originalMessageId ? sent.get(input.originalMessageId) : undefined;
    const message: InboundMessage = {
      messageId: String(6_000_000_000 + inbox.length + Math.floor(random() * 1000) * 1_000_000),
      from: normaliseNumber(input.from) ?? input.from.replace(/^\+/, ''),
      body: input.body,
      receivedAt: clock.now(),
      customString: input.customString ?? original?.customString ?? '',
      originalMessageId: input.originalMessageId ?? '',
      originalBody: original?.body ?? '',
      read: false,
    };
    inbox.push(message);
    if (inboundCallbackUrl) {
      const payload = [
        {
          from: echo(message.from),
          body: message.body,
          received_at: formatProviderTime(message.receivedAt, timezone),
          message_id: message.messageId,
          custom_string: message.customString,
          type: 'SMS',
          original_message_id: message.originalMessageId,
          original_body: message.originalBody,
        },
      ];
      void postCallbackWithDuplicates(inboundCallbackUrl, payload, () => undefined);
    }
    return message;
  }

  async function postCallbackWithDuplicates(url: string, payload: unknown[], onDelivered: () => void) {
    for (let copy = 0; copy <= faults.callbackDuplicates; copy += 1)
      await postCallback(url, payload, onDelivered);
  }

  // The provider's callback retry policy is undocumented; the sandbox retries a failed POST
  // with doubling gaps (1 s .. 64 s, 8 tries) so that a gateway restart loses nothing.
  async function postCallback(
    url: string,
    payload: unknown[],
    onDelivered: () => void,
    attempt = 1,
  ): Promise<void> {
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
        cancelTimers.delete(cancel);
        void postCallback(url, payload, onDelivered, attempt + 1);
      },
      1000 * 2 ** (attempt - 1),
    );
    cancelTimers.add(cancel);
  }

  function reset(): void {
    calls.length = 0;
    sent.clear();
    inbox.length = 0;
    reportsPosted.length = 0;
    pendingReports = [];
    armReportTimer(Infinity);
    admitted.clear();
    faults = { ...NO_FAULTS };
  }

  function setFaults(next: Partial<Faults>): void {
    faults = { ...faults, ...next };
  }

  return {
    app,
    get apiUrl() {
      return `${baseUrl}/api/v3/`;
    },
    get url() {
      return baseUrl;
    },
    calls,
    sent,
    inbox,
    reportsPosted,
    async start(port = 0, host = '127.0.0.1') {
      server = createServer(app);
      await new Promise<void>((resolve, reject) => {
        server?.once('error', reject);
        server?.listen(port, host, () => resolve());
      });
      const address = server.address() as AddressInfo;
      const shownHost = host.includes(':') ? `[${host}]` : host;
      baseUrl = `http://${shownHost}:${address.port}`;
      return baseUrl;
    },
    async stop() {
      for (const cancel of cancelTimers) cancel();
      cancelTimers.clear();
      reportTimer?.cancel();
      reportTimer = undefined;
      if (!server) return;
      const closing = server;
      server = undefined;
      await new Promise<void>((resolve) => {
        closing.close(() => resolve());
        closing.closeAllConnections();
      });
    },
    setFaults,
    setCallsPerSecond(limit: number) {
      callsPerSecond = limit;
    },
    configureCallbacks(urls) {
      if (urls.dlr !== undefined) dlrCallbackUrl = urls.dlr;
      if (urls.inbound !== undefined) inboundCallbackUrl = urls.inbound;
    },
    injectInbound,
    flushDueReports,
    reset,
  };
}

/** Cloudflare's published Turnstile testing secrets and the dummy token its test site keys produce. */
export const TURNSTILE_TEST_SECRETS = {
  pass: '1x0000000000000000000000000000000AA',
  fail: '2x0000000000000000000000000000000AA',
  spent: '3x0000000000000000000000000000000AA',
};
export const TURNSTILE_DUMMY_TOKEN = 'XXXX.DUMMY.TOKEN.XXXX';

/** Upper-case hex in 8-4-4-4-12 groups, as the provider's message ids are. */
export function providerMessageId(): string {
  const hex = randomBytes(16).toString('hex').toUpperCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The user part of HTTP Basic credentials, where the APPKEY goes in `basic` auth mode. */
function basicUser(authorization: string | undefined): string | undefined {
  if (!authorization?.startsWith('Basic ')) return undefined;
  return Buffer.from(authorization.slice(6), 'base64').toString('utf8').split(':')[0] || undefined;
}
