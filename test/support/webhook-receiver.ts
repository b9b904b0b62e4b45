import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
  /** Real time of arrival (ms). */
  at: number;
}

type Answer = number | { status: number; headers: Record<string, string> };

export interface WebhookReceiver {
  url: string;
  port: number;
  received: ReceivedWebhook[];
  /** Answers in order (a status, or a status with headers); after the list runs out, `then` (default 200). */
  script(statuses: Answer[], then?: number): void;
  /** Answer with a redirect to `location`, or never answer (hang). */
  behave(mode: { redirectTo?: string; hang?: boolean }): void;
  close(): Promise<void>;
}

/** A tenant's webhook endpoint on loopback that records every request and answers as scripted. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  let statuses: Answer[] = [];
  let fallback = 200;
  let mode: { redirectTo?: string; hang?: boolean } = {};
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      if (mode.hang) return;
      if (mode.redirectTo) {
        res.writeHead(301, { Location: mode.redirectTo }).end();
        return;
      }
      const answer = statuses.shift() ?? fallback;
      const [status, headers] = typeof answer === 'number' ? [answer, {}] : [answer.status, answer.headers];
      res.writeHead(status, { 'Content-Type': 'text/plain', ...headers }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/sms`,
    port,
    received,
    script(next, then = 200) {
      statuses = [...next];
      fallback = then;
    },
    behave(next) {
      mode = next;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
