import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';

/** One provider answer: status, headers (lower-case names) and the body, parsed if it is JSON. */
export interface Exchange {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The parsed JSON body, or the body as text when it is not JSON ('' when empty). */
  data: unknown;
  /** The body as text, as it came. */
  raw: string;
}

export interface ExchangeRequest {
  method: 'GET' | 'POST';
  /**
   * Where to: the URL as request options (node:url's urlToHttpOptions), which the client works out
   * once per endpoint; given a URL, http.request would convert it again on every call.
   */
  target: http.RequestOptions;
  headers: Record<string, string>;
  /** JSON text to send; none for a GET. */
  body?: string;
  agent: http.Agent;
  /** The whole exchange, from the request to the last byte of the answer. */
  timeoutMs: number;
  maxResponseBytes: number;
}

/**
 * Why an exchange failed: a Node network code (`ECONNREFUSED`, `ECONNRESET`…), `ETIMEDOUT` when the
 * time ran out, or `ERR_RESPONSE_TOO_LARGE`; and the socket the request had, if any (was it ever
 * connected?). The socket still reaches the request and its headers (the key): this error never
 * leaves the upstream client, which rebuilds every error it raises.
 */
export class TransportError extends Error {
  constructor(
    readonly code: string,
    readonly socket: Socket | null,
  ) {
    super(`provider exchange failed (${code})`);
  }
}

/**
 * One HTTP exchange over node:http(s) and the client's keep-alive agent. Hand-rolled instead of
 * axios, which cost 860 µs of CPU per call on the project's machine against 240 µs for this (its
 * config merging, header objects, adapters and interceptors run on every call; issue 15's
 * profiles). What the adapter needs is small: a JSON body, a whole-call timeout, a cap on the
 * answer's size, and the failure's network code and socket (to tell "never connected" from "sent,
 * outcome unknown"). The request runs synchronously up to the agent (where the write gate is
 * asked), so a refusal there rejects the returned promise with the gate's error.
 */
export function exchange(request: ExchangeRequest): Promise<Exchange> {
  return new Promise<Exchange>((resolve, reject) => {
    const headers =
      request.body === undefined
        ? request.headers
        : { ...request.headers, 'Content-Length': String(Buffer.byteLength(request.body)) };
    const transport = request.target.protocol === 'https:' ? https : http;
    const outgoing = transport.request({
      ...request.target,
      method: request.method,
      agent: request.agent,
      headers,
    });
    let failure: TransportError | undefined;
    const fail = (code: string) => {
      if (failure) return;
      failure = new TransportError(code, outgoing.socket);
      clearTimeout(timer);
      outgoing.destroy();
      reject(failure);
    };
    const timer = setTimeout(() => fail('ETIMEDOUT'), request.timeoutMs);
    outgoing.on('error', (error: NodeJS.ErrnoException) => fail(error.code ?? 'ECONNRESET'));
    outgoing.on('response', (answer) => {
      const chunks: Buffer[] = [];
      let size = 0;
      answer.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > request.maxResponseBytes) fail('ERR_RESPONSE_TOO_LARGE');
        else chunks.push(chunk);
      });
      answer.on('error', (error: NodeJS.ErrnoException) => fail(error.code ?? 'ECONNRESET'));
      answer.on('end', () => {
        if (failure) return;
        clearTimeout(timer);
        const raw = Buffer.concat(chunks).toString('utf8');
        resolve({ status: answer.statusCode ?? 0, headers: answer.headers, data: parsedBody(raw), raw });
      });
    });
    outgoing.end(request.body);
  });
}

/** JSON when it parses (after a byte-order mark, if any), else the text itself (a proxy's HTML error page, say). */
function parsedBody(raw: string): unknown {
  const text = raw.startsWith('\uFEFF') ? raw.slice(1) : raw;
  if (text === '') return '';
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
