import http from 'node:http';
import https from 'node:https';
import { urlToHttpOptions } from 'node:url';
import { z } from 'zod';
import { isLoopback } from '../security';
import { UpstreamError } from './errors';
import { createScrub } from './scrub';
import { exchange, TransportError, type Exchange } from './transport';

export interface UpstreamOptions {
  baseUrl: string;
  authMode: 'appkey' | 'basic';
  appKey: string;
  timeoutMs: number;
  /** Told about every call: endpoint, outcome (ok, http_<status>, timeout, unavailable) and seconds. */
  onCall?: (endpoint: string, outcome: string, seconds: number) => void;
}

export interface ProviderSendRequest {
  text: string;
  /** E.164 numbers, at most 1000. */
  numbers: string[];
  /** Sender id; '' for the provider's shared number. */
  from: string;
  /** Our batch reference, echoed back in delivery reports and replies. */
  customString: string;
  /** `Y-m-d H:i:s` in the provider's timezone, or undefined for now. */
  scheduleTime?: string;
}

export interface ProviderSendResult {
  messages: { providerMessageId: string; to: string; from: string }[];
  totalNumbers: number;
  successNumber: number;
  creditsUsed: number;
  lowBalanceAlert?: string;
}

/** Paged provider reads that may be passed through to admins, unchanged. */
export const PASS_THROUGH_READS = [
  'account',
  'get-responses',
  'get-optout',
  'get-template',
  'get-sms',
] as const;
export type ProviderRead = (typeof PASS_THROUGH_READS)[number];

export interface ProviderEnvelope {
  httpStatus: number;
  body: Record<string, unknown>;
}

/**
 * Asked right before a request is written to the provider's socket: true while the budget slot the
 * call holds is still fresh. False means the request is not written and the call fails `stale`
 * (not sent), so the provider counts arrivals no closer together than the budget counted slots.
 */
export type WriteGate = () => boolean;

export interface UpstreamClient {
  sendSms(request: ProviderSendRequest, gate?: WriteGate): Promise<ProviderSendResult>;
  /**
   * Several different messages in one bulk-send-sms call. The call as a whole can fail (thrown);
   * otherwise each message has its own answer: a result, or the provider's refusal of it.
   */
  bulkSendSms(
    requests: ProviderSendRequest[],
    gate?: WriteGate,
  ): Promise<(ProviderSendResult | UpstreamError)[]>;
  read(endpoint: ProviderRead, query: Record<string, string>, gate?: WriteGate): Promise<ProviderEnvelope>;
  /** Marks inbound replies read (inbound-read-bulk), so get-responses stops returning them. */
  markInboundRead(inboundIds: string[], gate?: WriteGate): Promise<void>;
  close(): void;
}

// Provider bodies are untrusted input: parsed with zod, counts that arrive as strings coerced.
const count = z.coerce.number().int().nonnegative();
const envelopeSchema = z.object({
  meta: z.object({ code: z.coerce.number().optional(), status: z.string() }),
  msg: z.string().optional(),
  data: z.unknown(),
  low_sms_alert: z.string().optional(),
});
const sendDataSchema = z.object({
  messages: z.array(
    z.object({ message_id: z.string().min(1), to: z.coerce.string(), from: z.coerce.string().optional() }),
  ),
  total_numbers: count,
  success_number: count,
  credits_used: z.coerce.number().nonnegative(),
});

/**
 * The Cellcast v3 adapter. It is the only code that holds the APPKEY: the key is attached to
 * each request here, every answer is scrubbed of it before anything reads it (a provider may
 * echo it in any field), and every error it raises is rebuilt from scratch from the scrubbed
 * answer, so no transport error (a request carries its headers) ever leaves this module.
 */
export function createUpstreamClient(options: UpstreamOptions): UpstreamClient {
  const base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
  if (base.protocol !== 'https:' && !isLoopback(base.hostname)) {
    throw new Error(
      `upstream.baseUrl must use https:// for a non-loopback host (got ${base.protocol}//${base.host})`,
    );
  }
  const scrub = createScrub(options.appKey);
  const authHeaders: Record<string, string> =
    options.authMode === 'basic'
      ? { Authorization: `Basic ${Buffer.from(`${options.appKey}:`).toString('base64')}` }
      : { APPKEY: options.appKey };
  const connected = new WeakSet<object>();
  // Warm keep-alive connections: the most recently used socket first (LIFO), so a steady 15 calls/s
  // keep a few sockets hot and the rest time out; a reused socket is written at once (no connect).
  const agentOptions = {
    keepAlive: true,
    keepAliveMsecs: 15_000,
    maxSockets: 64,
    scheduling: 'lifo',
  } as const;
  const agent = gatedWrites(
    trackingConnects(
      base.protocol === 'https:' ? new https.Agent(agentOptions) : new http.Agent(agentOptions),
      connected,
    ),
  );
  const headers: Record<string, string> = {
    ...authHeaders,
    'Content-Type': 'application/json',
    Accept: 'application/json',
    // Answers are read as they come: none compressed (no header would allow any encoding).
    'Accept-Encoding': 'identity',
    // Some WAFs and CDNs refuse requests without one.
    'User-Agent': 'smsgate',
  };
  // Request targets without a query, worked out once per endpoint (a URL parse and its conversion
  // to request options cost more than the rest of building the request).
  const targets = new Map<string, http.RequestOptions>();
  const targetOf = (endpoint: string, query: Record<string, string> | undefined): http.RequestOptions => {
    if (query === undefined || Object.keys(query).length === 0) {
      let target = targets.get(endpoint);
      if (!target) {
        target = urlToHttpOptions(new URL(endpoint, base));
        targets.set(endpoint, target);
      }
      return target;
    }
    const url = new URL(endpoint, base);
    for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
    return urlToHttpOptions(url);
  };

  async function call(
    method: 'GET' | 'POST',
    endpoint: string,
    payload: { query?: Record<string, string>; body?: unknown },
    gate: WriteGate | undefined,
  ): Promise<Exchange> {
    const started = performance.now();
    const report = (outcome: string) =>
      options.onCall?.(endpoint, outcome, (performance.now() - started) / 1000);
    const write = gate ? { gate, refused: false } : undefined;
    try {
      const target = targetOf(endpoint, payload.query);
      const send = () =>
        exchange({
          method,
          target,
          headers,
          ...(payload.body === undefined ? {} : { body: JSON.stringify(payload.body) }),
          agent,
          timeoutMs: options.timeoutMs,
          maxResponseBytes: 10 * 1024 * 1024,
        });
      const response = await (write ? withWriteGate(write, send) : send());
      report(response.status >= 200 && response.status < 300 ? 'ok' : `http_${response.status}`);
      // Not the raw text: only the cleaned answer leaves here.
      return {
        status: response.status,
        headers: response.headers,
        data: scrub.answer(response.raw, response.data),
        raw: '',
      };
    } catch (error) {
      if (write?.refused) {
        report('stale');
        throw new UpstreamError(
          'stale',
          `the budget slot for ${endpoint} was too old when the request was ready to go; not sent`,
        );
      }
      const failure = transportFailure(error, endpoint, options.timeoutMs, connected);
      report(failure.kind);
      throw failure;
    }
  }

  return {
    async sendSms(request, gate) {
      const response = await call('POST', 'send-sms', { body: toSendBody(request) }, gate);
      return toSendResult(
        checkedEnvelope(response.status, response.data, response.headers, 'send-sms'),
        response.status,
        'send-sms',
      );
    },

    async bulkSendSms(requests, gate) {
      const response = await call('POST', 'bulk-send-sms', { body: requests.map(toSendBody) }, gate);
      // A refusal of the whole call (auth, throttling) comes as one envelope, not an array.
      if (!Array.isArray(response.data)) {
        checkedEnvelope(response.status, response.data, response.headers, 'bulk-send-sms');
        throw new UpstreamError('rejected', 'provider bulk-send-sms answer was not an array', {
          httpStatus: response.status,
          status: 'UNPARSEABLE',
        });
      }
      const answers = response.data as unknown[];
      return requests.map((_, i) => {
        const endpoint = `bulk-send-sms message ${i + 1}`;
        try {
          return toSendResult(
            checkedEnvelope(response.status, answers[i], {}, endpoint),
            response.status,
            endpoint,
          );
        } catch (error) {
          if (error instanceof UpstreamError) return error;
          throw error;
        }
      });
    },

    async read(endpoint, query, gate) {
      const response = await call('GET', endpoint, { query }, gate);
      checkedEnvelope(response.status, response.data, response.headers, endpoint);
      return { httpStatus: response.status, body: response.data as Record<string, unknown> };
    },

    async markInboundRead(inboundIds, gate) {
      const response = await call('POST', 'inbound-read-bulk', { body: { message_id: inboundIds } }, gate);
      checkedEnvelope(response.status, response.data, response.headers, 'inbound-read-bulk');
    },

    close() {
      agent.destroy();
    },
  };
}

function toSendBody(request: ProviderSendRequest): Record<string, unknown> {
  const body: Record<string, unknown> = {
    sms_text: request.text,
    numbers: request.numbers,
    from: request.from,
    custom_string: request.customString,
  };
  if (request.scheduleTime) body.schedule_time = request.scheduleTime;
  return body;
}

function toSendResult(
  envelope: z.infer<typeof envelopeSchema>,
  httpStatus: number,
  endpoint: string,
): ProviderSendResult {
  const data = sendDataSchema.safeParse(envelope.data);
  if (!data.success) {
    throw new UpstreamError('rejected', `provider ${endpoint} answer was not in the documented shape`, {
      httpStatus,
      status: envelope.meta.status,
    });
  }
  return {
    messages: data.data.messages.map((m) => ({
      providerMessageId: m.message_id,
      to: withPlus(m.to),
      from: m.from ?? '',
    })),
    totalNumbers: data.data.total_numbers,
    successNumber: data.data.success_number,
    creditsUsed: data.data.credits_used,
    ...(envelope.low_sms_alert ? { lowBalanceAlert: envelope.low_sms_alert } : {}),
  };
}

/** Success means HTTP 2xx and meta.status SUCCESS; anything else becomes an UpstreamError (from the scrubbed answer). */
function checkedEnvelope(
  httpStatus: number,
  body: unknown,
  headers: Record<string, unknown>,
  endpoint: string,
): z.infer<typeof envelopeSchema> {
  const parsed = envelopeSchema.safeParse(body);
  const status = parsed.success ? parsed.data.meta.status : 'UNPARSEABLE';
  const msg = parsed.success ? (parsed.data.msg ?? '').slice(0, 200) : '';
  const provider = { httpStatus: httpStatus, status };
  if (httpStatus === 429 || status === 'OVER_LIMIT') {
    const retryAfter = Number(headers['retry-after']);
    const seconds = Number.isFinite(retryAfter) && retryAfter > 0 ? Math.ceil(retryAfter) : 1;
    throw new UpstreamError(
      'throttled',
      `provider throttled the account (HTTP 429 OVER_LIMIT on ${endpoint}); not sent`,
      provider,
      {
        'Retry-After': String(seconds),
      },
    );
  }
  if (httpStatus >= 200 && httpStatus < 300 && parsed.success && status === 'SUCCESS') return parsed.data;
  if (status === 'AUTH_FAILED' || status === 'AUTH_FAILED_NO_DATA') {
    throw new UpstreamError(
      'rejected',
      `provider refused the gateway's credentials on ${endpoint} (HTTP ${httpStatus} ${status}); check upstream.appKey`,
      provider,
    );
  }
  if (!parsed.success) {
    throw new UpstreamError(
      'rejected',
      `provider answered ${endpoint} with HTTP ${httpStatus} and a body that is not its JSON envelope`,
      provider,
    );
  }
  const detail = msg ? `: ${msg}` : '';
  throw new UpstreamError(
    'rejected',
    `provider refused ${endpoint} (HTTP ${httpStatus} ${status})${detail}`,
    provider,
  );
}

/**
 * Remembers which of the agent's sockets completed their TCP connect (a reused keep-alive socket
 * did, earlier): whether a call cut off by its timeout can have reached the provider.
 */
function trackingConnects<A extends http.Agent>(agent: A, connected: WeakSet<object>): A {
  const create = agent.createConnection.bind(agent);
  agent.createConnection = (...args: Parameters<typeof create>) => {
    const socket = create(...args);
    socket?.once('connect', () => connected.add(socket));
    return socket;
  };
  return agent;
}

interface GatedWrite {
  gate: WriteGate;
  /** Set once the gate said no: the request was not written. */
  refused: boolean;
}

/**
 * The write gate of the call being made, from `call` to the agent. `http.request` hands the request
 * to the agent (addRequest, createConnection) synchronously, so a variable set around that call is
 * enough. Not an AsyncLocalStorage: running one turns on async hooks for every promise in the
 * process, a cost the whole gateway would pay for this one synchronous hand-over.
 */
let currentWrite: GatedWrite | undefined;

function withWriteGate<T>(write: GatedWrite, start: () => T): T {
  const outer = currentWrite;
  currentWrite = write;
  try {
    return start();
  } finally {
    currentWrite = outer;
  }
}

/**
 * Asks the call's write gate at the last moment before the request reaches the socket. A request
 * given a kept-alive socket is written within the same turn of the event loop as `addRequest` (a
 * nextTick), so asking there is asking at the write. A request that needs a new connection is
 * written when the connect completes, possibly after a stall: the gate is asked again then, and a
 * refusal destroys the socket before the queued write is flushed (our 'connect' listener runs
 * first: it is added when the socket is created, before the request writes to it).
 */
function gatedWrites<A extends http.Agent>(agent: A): A {
  const add = (agent as unknown as { addRequest: (...args: unknown[]) => void }).addRequest.bind(agent);
  const create = agent.createConnection.bind(agent);
  (agent as unknown as { addRequest: (...args: unknown[]) => void }).addRequest = (...args: unknown[]) => {
    const write = currentWrite;
    if (write && !write.gate()) {
      write.refused = true;
      throw new Error('budget slot too old; request not written');
    }
    add(...args);
  };
  agent.createConnection = (...args: Parameters<typeof create>) => {
    const socket = create(...args);
    const write = currentWrite;
    if (write) {
      socket?.prependOnceListener('connect', () => {
        if (!write.gate()) {
          write.refused = true;
          socket.destroy();
        }
      });
    }
    return socket;
  };
  return agent;
}

function transportFailure(
  error: unknown,
  endpoint: string,
  timeoutMs: number,
  connected: WeakSet<object>,
): UpstreamError {
  const code = error instanceof TransportError ? error.code : undefined;
  if (code === 'ETIMEDOUT') {
    // Node writes a request only once its socket is connected, so a call cut off before that sent
    // nothing: a black-holed provider, or (on a starved event loop) a refusal not yet seen when the
    // timer fired. That is "not sent" and may be retried, not an unknown outcome.
    const socket = (error as TransportError).socket;
    if (!socket || !connected.has(socket)) {
      return new UpstreamError(
        'unavailable',
        `provider did not accept a connection for ${endpoint} within ${timeoutMs} ms; not sent`,
      );
    }
    return new UpstreamError('timeout', `provider did not answer ${endpoint} in time; outcome unknown`);
  }
  if (
    code === 'ECONNREFUSED' ||
    code === 'ENOTFOUND' ||
    code === 'EAI_AGAIN' ||
    code === 'EHOSTUNREACH' ||
    code === 'ENETUNREACH'
  ) {
    return new UpstreamError('unavailable', `provider unreachable for ${endpoint} (${code}); not sent`);
  }
  return new UpstreamError(
    'timeout',
    `connection to the provider dropped during ${endpoint} (${code ?? 'network error'}); outcome unknown`,
  );
}

/** The provider echoes numbers without '+' (live captures); the gateway speaks E.164. */
export function withPlus(number: string): string {
  const digits = number.replace(/[^0-9+]/g, '');
  return digits.startsWith('+') ? digits : `+${digits}`;
}
