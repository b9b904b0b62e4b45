import http from 'node:http';
import https from 'node:https';
import axios, { type AxiosInstance } from 'axios';
import { Webhook } from 'standardwebhooks';
import type { EgressPolicy } from '../egress';

export interface WebhookTarget {
  url: string;
  /** Current secret first; during a rotation the retiring one too (one `v1,` signature each). */
  secrets: string[];
}

export type AttemptOutcome =
  | { kind: 'delivered'; status: number }
  /** 410 Gone: the receiver asks never to be called again. */
  | { kind: 'gone'; status: number }
  | { kind: 'failed'; status: number | null; error: string; retryAfterMs?: number };

/** Signs `{id}.{timestamp}.{body}` with each secret, per Standard Webhooks (via its reference library). */
export function signatureHeader(secrets: string[], eventId: string, at: Date, body: string): string {
  return secrets.map((secret) => new Webhook(secret).sign(eventId, at, body)).join(' ');
}

/**
 * One delivery attempt: the stored body, signed for this attempt's timestamp, POSTed to a target
 * the egress policy allows (every resolved address checked, the checked address used). Only 2xx is
 * success; redirects are not followed (3xx is a failure); the attempt is cut off at `timeoutMs`.
 */
export function createWebhookSender(options: { policy: EgressPolicy; timeoutMs: number }) {
  const client: AxiosInstance = axios.create({
    timeout: options.timeoutMs,
    maxRedirects: 0,
    validateStatus: () => true,
    responseType: 'text',
    transformResponse: (data: unknown) => data,
    maxContentLength: 64 * 1024,
    proxy: false,
    httpAgent: new http.Agent({ keepAlive: true, maxSockets: 32 }),
    httpsAgent: new https.Agent({ keepAlive: true, maxSockets: 32 }),
    transitional: { clarifyTimeoutError: true },
  });

  return async function deliverWebhook(
    target: WebhookTarget,
    eventId: string,
    body: string,
    at: Date,
  ): Promise<AttemptOutcome> {
    const refused = options.policy.checkUrl(target.url);
    if (refused) return { kind: 'failed', status: null, error: `refused: ${refused}` };
    const url = new URL(target.url);
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    try {
      const response = await client.post(target.url, body, {
        // Declared async on purpose: axios only treats an AsyncFunction as a promise-style lookup.
        lookup: async (hostname: string) => options.policy.resolveFor(hostname, port),
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': 'smsgate-webhooks/1',
          'webhook-id': eventId,
          'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
          'webhook-signature': signatureHeader(target.secrets, eventId, at, body),
        },
      });
      if (response.status >= 200 && response.status < 300)
        return { kind: 'delivered', status: response.status };
      if (response.status === 410) return { kind: 'gone', status: 410 };
      const retryAfterMs = parseRetryAfter(response.headers['retry-after'], at.getTime());
      return {
        kind: 'failed',
        status: response.status,
        error:
          response.status >= 300 && response.status < 400
            ? 'redirect not followed'
            : `HTTP ${response.status}`,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      };
    } catch (error) {
      return { kind: 'failed', status: null, error: describeFailure(error, options.timeoutMs) };
    }
  };
}

export type DeliverWebhook = ReturnType<typeof createWebhookSender>;

/** Retry-After in seconds or as an HTTP date; anything else is ignored. */
function parseRetryAfter(value: unknown, now: number): number | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** A short reason without the URL (it may carry credentials) or any request header. */
function describeFailure(error: unknown, timeoutMs: number): string {
  if (axios.isAxiosError(error)) {
    if (error.code === 'ETIMEDOUT' || error.code === 'ECONNABORTED') return `timed out after ${timeoutMs} ms`;
    const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
    if (cause?.code === 'EGRESS_REFUSED') return `refused: ${String(cause.message)}`;
    if (typeof error.message === 'string' && error.message.includes('is a '))
      return `refused: ${error.message}`;
    return error.code ?? 'request failed';
  }
  return error instanceof Error ? error.name : 'request failed';
}
