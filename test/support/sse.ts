import { request, type IncomingMessage } from 'node:http';

export interface SseEvent {
  id: string;
  event: string;
  data: string;
}

export interface SseStream {
  status: number;
  response: IncomingMessage;
  events: SseEvent[];
  comments: string[];
  /** Everything received, as text (a refusal's JSON envelope, say). */
  raw(): string;
  /** Resolves when the server has ended the response. */
  ended: Promise<void>;
  close(): void;
}

/**
 * A minimal EventSource for tests: opens the stream over real HTTP and parses frames as they
 * arrive (id/event/data lines, comments), per the WHATWG server-sent events format.
 */
export function openEventStream(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { Accept: 'text/event-stream', ...headers } }, (response) => {
      let raw = '';
      const stream: SseStream = {
        status: response.statusCode ?? 0,
        response,
        events: [],
        comments: [],
        raw: () => raw,
        ended: new Promise((ended) => response.once('close', () => ended())),
        close: () => req.destroy(),
      };
      let buffer = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        raw += chunk;
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event: SseEvent = { id: '', event: 'message', data: '' };
          let hasData = false;
          for (const line of frame.split('\n')) {
            if (line.startsWith(':')) stream.comments.push(line.slice(1).trim());
            else if (line.startsWith('id: ')) event.id = line.slice(4);
            else if (line.startsWith('event: ')) event.event = line.slice(7);
            else if (line.startsWith('data: ')) {
              event.data += (hasData ? '\n' : '') + line.slice(6);
              hasData = true;
            }
          }
          if (hasData) stream.events.push(event);
        }
      });
      response.on('error', () => undefined);
      resolve(stream);
    });
    req.on('error', (error) => {
      if (!req.destroyed) reject(error);
    });
    req.end();
  });
}
