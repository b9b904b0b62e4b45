// The console's only way to the gateway: fetch with the admin token held in memory (a module
// variable), never in a cookie or localStorage, so closing the tab signs out.
let token: string | undefined;

export function setToken(value: string | undefined): void {
  token = value;
}

export function signedIn(): boolean {
  return token !== undefined;
}

export interface Envelope<T> {
  error: { code: string; description: string };
  data?: T;
  page?: { count: number; number: number };
  [key: string]: unknown;
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    description: string,
  ) {
    super(description);
  }
}

export async function call<T>(method: string, path: string, body?: unknown): Promise<Envelope<T>> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const envelope = (await response.json()) as Envelope<T>;
  if (!response.ok) throw new ApiFailure(response.status, envelope.error.code, envelope.error.description);
  return envelope;
}

export const get = <T>(path: string) => call<T>('GET', path);
export const post = <T>(path: string, body?: unknown) => call<T>('POST', path, body);

/**
 * Reads a Server-Sent Events stream with fetch, so the token travels in the Authorization header
 * (EventSource cannot send one). Calls `onEvent` per event; the returned function stops reading.
 */
export function stream(path: string, onEvent: (type: string, data: string) => void): () => void {
  const controller = new AbortController();
  void (async () => {
    const response = await fetch(path, {
      headers: token ? { Authorization: `Bearer ${token}` } : {},
      signal: controller.signal,
    });
    if (!response.body) return;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let type = 'message';
        const data: string[] = [];
        for (const line of frame.split('\n')) {
          if (line.startsWith('event: ')) type = line.slice(7);
          else if (line.startsWith('data: ')) data.push(line.slice(6));
        }
        if (data.length > 0) onEvent(type, data.join('\n'));
      }
    }
  })().catch(() => undefined);
  return () => controller.abort();
}
