import { parseArgs } from 'node:util';
import { callGateway, CommandError, connectionOf, readEvents } from './client';

type Out = (line: string) => void;

const connectionOptions = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

/** `smsgate send --to N [--to N…] --text T [--from S] [--reference R]`: POST /v1/messages (sms:send). */
export async function sendCommand(args: string[], env: NodeJS.ProcessEnv, out: Out): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      ...connectionOptions,
      to: { type: 'string', multiple: true },
      text: { type: 'string' },
      from: { type: 'string' },
      reference: { type: 'string' },
    },
    strict: true,
  });
  if (!values.to?.length) throw new CommandError('--to: required (a number; repeat for several)');
  if (!values.text) throw new CommandError('--text: required');
  const connection = connectionOf(values, env);
  const body = {
    to: values.to.length === 1 ? values.to[0] : values.to,
    text: values.text,
    ...(values.from ? { from: values.from } : {}),
    ...(values.reference ? { reference: values.reference } : {}),
  };
  const answer = await callGateway(connection, 'POST', '/v1/messages', body);
  if (values.json) return out(JSON.stringify(answer.data));
  const data = answer.data as { messages?: { id: string; to: string; status: string }[] };
  for (const message of data.messages ?? []) out(`${message.id}  ${message.to}  ${message.status}`);
}

/** `smsgate messages [--tenant T] [--status S] [--last DIGITS] [--reference R] [--from ISO] [--to ISO] [--page N]`. */
export async function messagesCommand(args: string[], env: NodeJS.ProcessEnv, out: Out): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      ...connectionOptions,
      tenant: { type: 'string' },
      status: { type: 'string' },
      last: { type: 'string' },
      reference: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      page: { type: 'string' },
    },
    strict: true,
  });
  const connection = connectionOf(values, env);
  const query = new URLSearchParams();
  for (const key of ['tenant', 'status', 'last', 'reference', 'from', 'to', 'page'] as const) {
    const value = values[key];
    if (value !== undefined) query.set(key, value);
  }
  const answer = await callGateway(connection, 'GET', `/v1/admin/console/messages?${query.toString()}`);
  if (values.json) return out(JSON.stringify(answer.data));
  const messages = answer.data as {
    id: string;
    tenantId: string;
    to: string;
    status: string;
    reference: string | null;
    createdAt: string;
  }[];
  if (messages.length === 0) return out('no message matches');
  for (const m of messages) {
    out(
      [m.createdAt, m.tenantId.padEnd(12), m.to.padEnd(14), m.status.padEnd(16), m.id, m.reference ?? '']
        .join('  ')
        .trimEnd(),
    );
  }
  if (answer.page && answer.page.count > answer.page.number) {
    out(`(page ${answer.page.number} of ${answer.page.count}: --page ${answer.page.number + 1} for more)`);
  }
}

/** `smsgate tail [--tenant T]`: every tenant's events as they happen (admin), until Ctrl-C. */
export async function tailCommand(
  args: string[],
  env: NodeJS.ProcessEnv,
  out: Out,
  signal?: AbortSignal,
): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { ...connectionOptions, tenant: { type: 'string' } },
    strict: true,
  });
  const connection = connectionOf(values, env);
  await readEvents(
    connection,
    '/v1/admin/console/events',
    (type, data) => {
      const event = JSON.parse(data) as {
        tenant: string;
        body: { timestamp?: string; data?: Record<string, unknown> };
      };
      if (values.tenant && event.tenant !== values.tenant) return;
      if (values.json) return out(data);
      const d = event.body.data ?? {};
      const details = [d.status, d.to ?? d.from, d.messageId ?? d.id, d.reference]
        .filter((v): v is string | number => typeof v === 'string' || typeof v === 'number')
        .join('  ');
      out(`${event.body.timestamp ?? ''}  ${event.tenant.padEnd(12)}  ${type.padEnd(16)}  ${details}`);
    },
    signal,
  );
}

/** `smsgate usage`: every tenant's quotas and rate (admin), or the token's own tenant's. */
export async function usageCommand(args: string[], env: NodeJS.ProcessEnv, out: Out): Promise<void> {
  const { values } = parseArgs({ args, options: connectionOptions, strict: true });
  const connection = connectionOf(values, env);
  let answer;
  try {
    answer = await callGateway(connection, 'GET', '/v1/admin/usage');
  } catch (error) {
    if (!(error instanceof CommandError) || !error.message.startsWith('403')) throw error;
    answer = await callGateway(connection, 'GET', '/v1/usage');
  }
  if (values.json) return out(JSON.stringify(answer.data));
  const rows = (Array.isArray(answer.data) ? answer.data : [answer.data]) as {
    tenant: string;
    rateLimit: { requests: number; windowSec: number; used: number | null };
    quotas: { name: string; limit: number; used: number }[];
  }[];
  for (const row of rows) {
    const quotas = row.quotas.map((q) => `${q.name} ${q.used}/${q.limit}`).join('  ') || 'no quota';
    out(
      `${row.tenant.padEnd(12)}  requests ${row.rateLimit.used ?? '?'}/${row.rateLimit.requests} per ${row.rateLimit.windowSec}s  ${quotas}`,
    );
  }
}
