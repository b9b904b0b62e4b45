import type { IncomingMessage, ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import jwt from 'jsonwebtoken';
import { loadConfig, mergeTrees, secretValuesOf, type Config } from '../../src/config';
import { createLogger } from '../../src/observability';
import type { OpenApiDocument } from '../../src/openapi';
import { startServer, type RunningServer } from '../../src/server';
import { systemClock, type Clock } from '../../src/clock';
import { captured } from './leak-guard';
import { TEST_APPKEY, TEST_CALLBACK_TOKEN, TEST_JWT_SECRET } from './constants';

type Tree = Record<string, unknown>;

/** The test tenants: alpha and beta send in AU; ops is an admin. */
export const TEST_TENANTS = {
  alpha: { scopes: ['sms:send', 'sms:read'], allowedCountries: ['AU'] },
  beta: {
    scopes: ['sms:send', 'sms:read'],
    allowedCountries: ['AU', 'NZ'],
    allowedSenders: ['BetaCo', '61400000000'],
  },
  ops: { scopes: ['sms:send', 'sms:read', 'admin'], allowedCountries: ['AU'] },
};

/**
 * The provider call timeout of every test gateway. It is real time even under a manual clock, so it
 * is generous: on 2 busy shared cores a sandbox answer (or even the refusal of a closed port) can
 * take seconds to be seen, and a short timeout would turn it into a spurious `unknown`/504. Only
 * tests about timeouts set a short one, on a gateway of their own, against a provider that hangs.
 */
export const TEST_UPSTREAM_TIMEOUT_MS = 30_000;

/** For tests about upstream timeouts: the provider hangs, so this always fires, and soon. */
export const SHORT_UPSTREAM_TIMEOUT_MS = 300;

/** Loads the real config (default.yaml + these overrides) with no environment from the machine. */
export function testConfig(overrides: Tree = {}): Config {
  const base: Tree = {
    http: { port: 0, host: '127.0.0.1' },
    auth: { jwtSecret: TEST_JWT_SECRET },
    callbacks: { tokens: [TEST_CALLBACK_TOKEN] },
    // bulkSend is on in sandbox mode; tests count provider calls per text unless they turn it on.
    upstream: { appKey: TEST_APPKEY, timeoutMs: TEST_UPSTREAM_TIMEOUT_MS, bulkSend: false },
    sandbox: { dlrDelayMs: 60_000 },
    store: { sqliteFile: ':memory:' },
    log: { level: 'debug' },
  };
  return loadConfig({}, mergeTrees(mergeTrees(base, { tenants: TEST_TENANTS }), overrides));
}

/** Starts smsgate exactly as `npm start` does, on loopback, capturing its logs and responses. */
export async function startTestGateway(
  overrides: Tree = {},
  clock: Clock = systemClock,
): Promise<RunningServer> {
  // A manual clock moves only when the test says: paced grants would wait on it for ever. Pacing
  // is tested in test/scheduler with a driven clock; the sliding log holds the cap here either way.
  const unpaced = clock === systemClock ? {} : { upstream: { paceGrants: false } };
  const config = testConfig(mergeTrees(unpaced, overrides));
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      captured.logLines.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = createLogger({
    level: config.log.level,
    secrets: secretValuesOf(config),
    destination,
  });
  const running = await startServer(config, { clock, logger });
  running.server.prependListener('request', (req: IncomingMessage, res: ServerResponse) =>
    recordResponse(running.gateway.document, req, res),
  );
  return running;
}

/** Keeps a copy of every status line, header and body the gateway sends. */
function recordResponse(document: OpenApiDocument, req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  const keep = (chunk: unknown) => {
    if (typeof chunk === 'string') chunks.push(Buffer.from(chunk));
    else if (chunk instanceof Uint8Array) chunks.push(Buffer.from(chunk));
  };
  res.write = ((...args: unknown[]) => {
    keep(args[0]);
    return write(...args);
  }) as typeof res.write;
  res.end = ((...args: unknown[]) => {
    if (typeof args[0] !== 'function') keep(args[0]);
    const body = Buffer.concat(chunks).toString('utf8');
    captured.responses.push(`${res.statusCode} ${JSON.stringify(res.getHeaders())}\n${body}`);
    captured.exchanges.push({
      document,
      method: req.method ?? '',
      path: req.url ?? '',
      status: res.statusCode,
      contentType: String(res.getHeader('content-type') ?? ''),
      body,
    });
    return end(...args);
  }) as typeof res.end;
}

export function tokenFor(
  tenant: string,
  options: { scope?: string; ttlSec?: number; secret?: string; extra?: Tree } = {},
): string {
  return jwt.sign(
    { tenant, scope: options.scope ?? 'sms:send sms:read', ...options.extra },
    options.secret ?? TEST_JWT_SECRET,
    {
      algorithm: 'HS256',
      expiresIn: options.ttlSec ?? 300,
    },
  );
}

export function bearer(token: string): { Authorization: string } {
  return { Authorization: `Bearer ${token}` };
}
