import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { setBalance } from './account';
import { createCallbackScheduler } from './callbacks';
import { mountControlRoutes } from './control-routes';
import { receiveInbound, type InboundInput } from './inbox';
import { addOptOuts, removeOptOut } from './opt-outs';
import { mountProviderRoutes } from './provider-routes';
import { createState, forgetActivity, type SandboxState } from './state';
import { templateFromSeed } from './templates';
import type { Faults, InboundMessage, ProviderTemplate, SandboxOptions, TemplateSeed } from './types';

/** What the sandbox has seen and holds (calls, sent messages, inbox, reports, opt-outs, templates), live. */
type SandboxRecords = Pick<
  SandboxState,
  'calls' | 'sent' | 'inbox' | 'reportsPosted' | 'optOuts' | 'templates'
>;

export interface Sandbox extends SandboxRecords {
  readonly app: express.Express;
  /** Base URL of the v3 API, e.g. http://127.0.0.1:4010/api/v3/ (after start). */
  readonly apiUrl: string;
  readonly url: string;
  start(port?: number, host?: string): Promise<string>;
  stop(): Promise<void>;
  setFaults(faults: Partial<Faults>): void;
  setCallsPerSecond(limit: number): void;
  configureCallbacks(urls: { dlr?: string; inbound?: string }): void;
  injectInbound(input: InboundInput): InboundMessage;
  /** Sends every delivery report that is due now (tests drive this with their clock). */
  flushDueReports(): Promise<void>;
  /** The SMS and MMS credits left. */
  readonly balance: { sms: number; mms: number };
  setBalance(balances: { sms?: number; mms?: number }): void;
  /** Puts numbers on the account's opt-out list; returns those it could not read (not added). */
  addOptOuts(numbers: string[]): string[];
  removeOptOut(number: string): boolean;
  /** Replaces the account's templates; returns them with their ids. */
  setTemplates(seeds: TemplateSeed[]): ProviderTemplate[];
  /** Forgets calls, messages, inbox, faults and pending reports; balances, opt-outs and templates are as they opened. */
  reset(): void;
}

/**
 * A faithful HTTP simulator of the Cellcast v3 API (docs/provider.md): APPKEY
 * check, 15 calls per key in any rolling second, the documented send/read endpoints and their
 * validation, upper-case 8-4-4-4-12 message ids, paged inbox, delivery reports POSTed as JSON
 * arrays of final statuses, fault injection, and a record of every call.
 */
export function createSandbox(options: SandboxOptions): Sandbox {
  const state = createState(options);
  const callbacks = createCallbackScheduler(state);
  const controls = {
    setFaults(next: Partial<Faults>) {
      state.faults = { ...state.faults, ...next };
    },
    injectInbound: (input: InboundInput) => receiveInbound(state, callbacks, input),
    setBalance: (balances: { sms?: number; mms?: number }) => setBalance(state, balances),
    addOptOuts: (numbers: string[]) => addOptOuts(state, numbers),
    removeOptOut: (number: string) => removeOptOut(state, number),
    setTemplates(seeds: TemplateSeed[]) {
      const templates = seeds.map((seed) => templateFromSeed(seed, state.clock.now()));
      state.templates.splice(0, state.templates.length, ...templates);
      return templates;
    },
    reset() {
      forgetActivity(state);
      callbacks.forgetPending();
    },
  };
  let server: Server | undefined;
  let baseUrl = '';

  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '5mb' }));
  mountControlRoutes(app, state, controls);
  mountProviderRoutes(app, state, callbacks);

  return {
    app,
    get apiUrl() {
      return `${baseUrl}/api/v3/`;
    },
    get url() {
      return baseUrl;
    },
    calls: state.calls,
    sent: state.sent,
    inbox: state.inbox,
    reportsPosted: state.reportsPosted,
    optOuts: state.optOuts,
    templates: state.templates,
    get balance() {
      return { sms: state.smsBalance, mms: state.mmsBalance };
    },
    async start(port = 0, host = '127.0.0.1') {
      server = createServer(app);
      await new Promise<void>((resolve, reject) => {
        server?.once('error', reject);
        server?.listen(port, host, () => resolve());
      });
      const address = server.address() as AddressInfo;
      const shownHost = host.includes(':') ? `[${host}]` : host;
      baseUrl = `http://${shownHost}:${address.port}`;
      return baseUrl;
    },
    async stop() {
      callbacks.stop();
      if (!server) return;
      const closing = server;
      server = undefined;
      await new Promise<void>((resolve) => {
        closing.close(() => resolve());
        closing.closeAllConnections();
      });
    },
    ...controls,
    setCallsPerSecond(limit: number) {
      state.callsPerSecond = limit;
    },
    configureCallbacks(urls) {
      if (urls.dlr !== undefined) state.dlrCallbackUrl = urls.dlr;
      if (urls.inbound !== undefined) state.inboundCallbackUrl = urls.inbound;
    },
    flushDueReports: () => callbacks.flushDueReports(),
  };
}
