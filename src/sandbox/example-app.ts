import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import express from 'express';

/** The example app's sources: a page, its styles and a script that uses the client in client/. */
const SOURCES = resolve(__dirname, '../../examples/browser-app');
export const EXAMPLE_APP_CLIENT_ID = 'smsgate-example-app';

export interface ExampleAppOptions {
  /** The gateway as the browser reaches it (known once it listens: read on every request). */
  gatewayUrl: () => string;
  /** The identity provider's authorization endpoint. */
  authorizeUrl: () => string;
}

export interface ExampleApp {
  /** Its URL, e.g. http://127.0.0.1:4012 (after start). */
  readonly url: string;
  /** The origins a browser may show it under (127.0.0.1 and localhost), for CORS and redirects. */
  readonly origins: string[];
  start(port?: number, host?: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * The cross-origin example app of sandbox mode, served from a port of its own (so from another
 * origin than the gateway): sign in at the identity-provider stand-in, send to your own number
 * (`sms:send:self`) and watch its status arrive over the event stream. Its script is bundled with
 * esbuild from examples/browser-app/app.ts and the client's sources when first asked for, so it is
 * always the current client; esbuild is a development dependency, as sandbox mode is for
 * development (without it the page says so).
 */
export function createExampleApp(options: ExampleAppOptions): ExampleApp {
  let server: Server | undefined;
  let url = '';
  let port = 0;
  let bundle: { code: string } | { problem: string } | undefined;

  async function script(): Promise<{ code: string } | { problem: string }> {
    if (bundle) return bundle;
    try {
      const esbuild = await import('esbuild');
      const built = await esbuild.build({
        entryPoints: [resolve(SOURCES, 'app.ts')],
        bundle: true,
        write: false,
        format: 'iife',
        platform: 'browser',
        target: 'es2020',
        minify: false,
        logLevel: 'silent',
      });
      bundle = { code: built.outputFiles[0]?.text ?? '' };
    } catch (error) {
      bundle = {
        problem: `the example app's script could not be bundled (esbuild is a development dependency: npm ci): ${(error as Error).message}`,
      };
    }
    return bundle;
  }

  const app = express();
  app.disable('x-powered-by');
  app.use((_req, res, next) => {
    // No inline script or style, and the only other origin it talks to is the gateway.
    const gateway = new URL(options.gatewayUrl()).origin;
    res.setHeader(
      'Content-Security-Policy',
      `default-src 'self'; connect-src 'self' ${gateway}; script-src 'self'; style-src 'self'; ` +
        "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    );
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    next();
  });
  app.get('/', (_req, res) => {
    res
      .type('html')
      .setHeader('Cache-Control', 'no-store')
      .send(readFileSync(resolve(SOURCES, 'index.html')));
  });
  // No icon: answered, so the browser does not log a 404 for it.
  app.get('/favicon.ico', (_req, res) => {
    res.status(204).end();
  });
  app.get('/app.css', (_req, res) => {
    res.type('css').send(readFileSync(resolve(SOURCES, 'app.css')));
  });
  app.get('/app.js', async (_req, res) => {
    const built = await script();
    if ('problem' in built) res.status(500).type('text/plain').send(built.problem);
    else res.type('js').setHeader('Cache-Control', 'no-cache').send(built.code);
  });
  app.get('/config.json', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json({
      gatewayUrl: options.gatewayUrl(),
      authorizeUrl: options.authorizeUrl(),
      clientId: EXAMPLE_APP_CLIENT_ID,
    });
  });

  return {
    get url() {
      return url;
    },
    get origins() {
      return [...new Set([new URL(url).origin, `http://127.0.0.1:${port}`, `http://localhost:${port}`])];
    },
    async start(listenPort = 0, host = '127.0.0.1') {
      server = createServer(app);
      await new Promise<void>((done, fail) => {
        server?.once('error', fail);
        server?.listen(listenPort, host, () => done());
      });
      port = (server.address() as AddressInfo).port;
      const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
      url = `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}`;
      return url;
    },
    async stop() {
      if (!server) return;
      const closing = server;
      server = undefined;
      await new Promise<void>((done) => {
        closing.close(() => done());
        closing.closeAllConnections();
      });
    },
  };
}
