// What the operator commands share: the gateway's URL and a token from options or the environment,
// and fetch (built into Node): no HTTP library to load, so a command starts in well under a second.

export interface Connection {
  url: string;
  token: string;
}

export class CommandError extends Error {}

export function connectionOf(
  values: { url?: string | undefined; token?: string | undefined },
  env: NodeJS.ProcessEnv,
): Connection {
  const url = (values.url ?? env.SMSGATE_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  const token = values.token ?? env.SMSGATE_TOKEN;
  if (!token) {
    throw new CommandError(
      'a token is needed: --token or SMSGATE_TOKEN (e.g. export SMSGATE_TOKEN=$(npx smsgate token --tenant ops --scope admin))',
    );
  }
  return { url, token };
}

interface Envelope {
  error?: { code?: string; description?: string };
  data?: unknown;
  page?: { count: number; number: number };
}

/** Calls the gateway; a failure envelope becomes an error naming its code and description. */
export async function callGateway(
  connection: Connection,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<Envelope> {
  let response: Response;
  try {
    response = await fetch(`${connection.url}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${connection.token}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (error) {
    throw new CommandError(`cannot reach ${connection.url}: ${(error as Error).message}`);
  }
  const envelope = (await response.json().catch(() => ({}))) as Envelope;
  if (!response.ok) {
    throw new CommandError(
      `${response.status} ${envelope.error?.code ?? ''}: ${envelope.error?.description ?? 'no description'}`,
    );
  }
  return envelope;
}

/** Reads a Server-Sent Events stream, calling `onEvent` per event until the stream or the signal ends. */
export async function readEvents(
  connection: Connection,
  path: string,
  onEvent: (type: string, data: string) => void,
  signal?: AbortSignal,
): Promise<void> {
  const response = await fetch(`${connection.url}${path}`, {
    headers: { Authorization: `Bearer ${connection.token}`, Accept: 'text/event-stream' },
    ...(signal ? { signal } : {}),
  }).catch((error: unknown) => {
    throw new CommandError(`cannot reach ${connection.url}: ${(error as Error).message}`);
  });
  if (!response.ok || !response.body) {
    const envelope = (await response.json().catch(() => ({}))) as Envelope;
    throw new CommandError(
      `${response.status} ${envelope.error?.code ?? ''}: ${envelope.error?.description ?? ''}`,
    );
  }
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of response.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
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
  } catch (error) {
    if (signal?.aborted) return;
    throw error;
  }
}
