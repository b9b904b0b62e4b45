import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createGateway, type Gateway } from './app';
import { systemClock, type Clock } from './clock';
import { secretValuesOf, type Config } from './config';
import { createLogger, type Logger } from './observability';
import {
  createExampleApp,
  createIdentityProvider,
  createSandbox,
  type ExampleApp,
  type IdentityProvider,
  type Sandbox,
} from './sandbox';
import { checkFormRecipients, DEMO_FORM_ID, demoForm } from './forms';
import { openDatabase, type Db } from './store';

export interface RunningServer {
  url: string;
  config: Config;
  gateway: Gateway;
  server: Server;
  sandbox: Sandbox | undefined;
  /** Sandbox mode with the demo tenant: the identity-provider stand-in and the example app. */
  identityProvider: IdentityProvider | undefined;
  exampleApp: ExampleApp | undefined;
  db: Db;
  logger: Logger;
  /**
   * Graceful stop: readiness fails at once; requests are still served for `drainMs` (each with
   * `Connection: close`); then new connections stop, in-flight requests get `graceMs` to finish,
   * background workers stop claiming, and everything is released.
   */
  stop(options?: { drainMs?: number; graceMs?: number }): Promise<void>;
}

/** The sandbox's demo tenant, whose end users the example app signs in. */
const DEMO_TENANT = 'demo';
/** The `aud` of the identity-provider stand-in's tokens, which the gateway checks. */
const EXAMPLE_AUDIENCE = 'smsgate';

export interface StartOptions {
  clock?: Clock;
  logger?: Logger;
}

/**
 * Starts smsgate: in sandbox mode the provider simulator first (on loopback, with the config's
 * sandbox APPKEY), then the store, the gateway and the HTTP listener.
 */
export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  checkFormRecipients(config);
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger({ level: config.log.level, secrets: secretValuesOf(config) });
  let sandbox: Sandbox | undefined;
  let identityProvider: IdentityProvider | undefined;
  let exampleApp: ExampleApp | undefined;
  let gatewayUrl = '';
  let effective = config;
  if (config.mode === 'sandbox') {
    sandbox = createSandbox({
      appKeys: [config.upstream.appKey ?? ''],
      callsPerSecond: config.sandbox.callsPerSecond,
      pageSize: config.sandbox.pageSize,
      dlrDelayMs: config.sandbox.dlrDelayMs,
      ...(config.sandbox.dlrCallbackUrl ? { dlrCallbackUrl: config.sandbox.dlrCallbackUrl } : {}),
      ...(config.sandbox.inboundCallbackUrl ? { inboundCallbackUrl: config.sandbox.inboundCallbackUrl } : {}),
      timezone: config.upstream.timezone,
      clock,
    });
    await sandbox.start(config.sandbox.port, config.sandbox.host);
    // The demo contact form at /demo/contact, its CAPTCHA checked by the sandbox's siteverify.
    const forms =
      config.tenants.demo && !config.forms[DEMO_FORM_ID]
        ? {
            ...config.forms,
            [DEMO_FORM_ID]: demoForm('demo', `${sandbox.url}/_sandbox/turnstile/v0/siteverify`),
          }
        : config.forms;
    effective = { ...config, forms, upstream: { ...config.upstream, baseUrl: sandbox.apiUrl } };
    const demo = effective.tenants[DEMO_TENANT];
    if (demo) {
      // The example app's end users sign in at the identity-provider stand-in; the gateway trusts
      // its JWKS and lets the app's origin call the demo tenant's API.
      identityProvider = createIdentityProvider({
        audience: EXAMPLE_AUDIENCE,
        tenant: DEMO_TENANT,
        tenantClaim: config.auth.tenantClaim,
        scopes: ['sms:send:self', 'sms:read', 'verify:send', 'verify:check'],
        clock,
      });
      await identityProvider.start(config.sandbox.identityProviderPort, config.sandbox.host);
      const idp = identityProvider;
      exampleApp = createExampleApp({ gatewayUrl: () => gatewayUrl, authorizeUrl: () => idp.authorizeUrl });
      await exampleApp.start(config.sandbox.exampleAppPort, config.sandbox.host);
      for (const origin of exampleApp.origins) identityProvider.allowRedirectOrigin(origin);
      const cors = {
        ...demo.cors,
        allowedOrigins: [...new Set([...demo.cors.allowedOrigins, ...exampleApp.origins])],
      };
      effective = { ...effective, tenants: { ...effective.tenants, [DEMO_TENANT]: { ...demo, cors } } };
    }
  }
  const db = await openDatabase(effective.store);
  // A SQLite file belongs to this process alone; PostgreSQL is shared by the replicas.
  const gateway = createGateway(effective, {
    db,
    clock,
    logger,
    exclusiveStore: !effective.store.databaseUrl,
    ...(identityProvider
      ? {
          trustedIssuer: {
            issuer: identityProvider.issuer,
            jwksUrl: identityProvider.jwksUrl,
            audience: EXAMPLE_AUDIENCE,
          },
        }
      : {}),
  });
  const { certFile, keyFile } = effective.tls;
  const server: Server =
    certFile && keyFile
      ? createTlsServer(
          { cert: readFileSync(certFile), key: readFileSync(keyFile), ...gateway.serverObjects },
          gateway.listener,
        )
      : createServer(gateway.serverObjects, gateway.listener);
  server.keepAliveTimeout = effective.http.keepAliveTimeoutMs;
  server.headersTimeout = effective.http.headersTimeoutMs;
  server.requestTimeout = effective.http.requestTimeoutMs;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(effective.http.port, effective.http.host, effective.http.backlog, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await gateway.start();
  // The embedded sandbox reports deliveries and replies to this gateway, as the real provider would.
  if (sandbox && !config.sandbox.dlrCallbackUrl && effective.callbacks.tokens[0]) {
    const callbacks = `http://127.0.0.1:${port}/v1/callbacks/cellcast/${effective.callbacks.tokens[0]}`;
    sandbox.configureCallbacks({ dlr: `${callbacks}/dlr`, inbound: `${callbacks}/inbound` });
  }
  const url = `${certFile ? 'https' : 'http'}://${effective.http.host === '0.0.0.0' || effective.http.host === '::' ? 'localhost' : effective.http.host}:${port}`;
  gatewayUrl = url;

  let stopping: Promise<void> | undefined;
  return {
    url,
    config: effective,
    gateway,
    server,
    sandbox,
    identityProvider,
    exampleApp,
    db,
    logger,
    stop({ drainMs = 0, graceMs = 10_000 } = {}) {
      stopping ??= (async () => {
        gateway.beginShutdown();
        // During the drain nothing is closed under a client: every answer carries
        // `Connection: close`, so each keep-alive connection ends after its next exchange. Closing
        // "idle" connections now would reset requests written but not parsed yet.
        if (drainMs > 0) await new Promise((resolve) => setTimeout(resolve, drainMs));
        // The load balancer has moved away: stop listening and close the idle connections (close()
        // does both); in-flight requests get `graceMs` to finish.
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        await closed;
        clearTimeout(timer);
        await gateway.close();
        await db.destroy();
        await sandbox?.stop();
        await exampleApp?.stop();
        await identityProvider?.stop();
      })();
      return stopping;
    },
  };
}
