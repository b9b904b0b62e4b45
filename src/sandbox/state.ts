// The simulated account: what the provider knows and remembers between calls, shared by the
// guards, the endpoints, the callback scheduler and the control routes.
import { systemClock, type Clock } from '../clock';
import { addOptOuts } from './opt-outs';
import { templateFromSeed } from './templates';
import type {
  DeliveryReport,
  Faults,
  InboundMessage,
  OptedOutContact,
  ProviderTemplate,
  SandboxCall,
  SandboxOptions,
  SentMessage,
} from './types';

export const NO_FAULTS: Faults = {
  latencyMs: 0,
  errorRate: 0,
  resetRate: 0,
  hang: false,
  answerDelayMs: 0,
  respondWith: null,
  callbackDuplicates: 0,
  callbackOutOfOrder: false,
};

export interface SandboxState {
  readonly options: SandboxOptions;
  readonly clock: Clock;
  /** Randomness for fault injection and inbound ids. */
  readonly random: () => number;
  /** The provider's local time for `schedule_time` and the dates it shows. */
  readonly timezone: string;
  callsPerSecond: number;
  faults: Faults;
  /** Credits left; sends spend SMS credits. */
  smsBalance: number;
  mmsBalance: number;
  /** The account's opt-out list by number (digits without '+'), in the order numbers joined it. */
  readonly optOuts: Map<string, OptedOutContact>;
  readonly templates: ProviderTemplate[];
  dlrCallbackUrl: string | undefined;
  inboundCallbackUrl: string | undefined;
  /** Every provider call, oldest first (trimmed to `maxRecords`). */
  readonly calls: SandboxCall[];
  readonly sent: Map<string, SentMessage>;
  readonly inbox: InboundMessage[];
  readonly reportsPosted: DeliveryReport[][];
  /** Per APPKEY, when each call admitted in the last second arrived. */
  readonly admitted: Map<string, number[]>;
}

export function createState(options: SandboxOptions): SandboxState {
  const state: SandboxState = {
    options,
    clock: options.clock ?? systemClock,
    random: options.random ?? Math.random,
    timezone: options.timezone ?? 'Australia/Sydney',
    callsPerSecond: options.callsPerSecond,
    faults: { ...NO_FAULTS },
    smsBalance: 0,
    mmsBalance: 0,
    optOuts: new Map(),
    templates: [],
    dlrCallbackUrl: options.dlrCallbackUrl,
    inboundCallbackUrl: options.inboundCallbackUrl,
    calls: [],
    sent: new Map(),
    inbox: [],
    reportsPosted: [],
    admitted: new Map(),
  };
  openAccount(state);
  return state;
}

/** Forgets calls, messages, the inbox and faults, and puts the account back as it opened. */
export function forgetActivity(state: SandboxState): void {
  state.calls.length = 0;
  state.sent.clear();
  state.inbox.length = 0;
  state.reportsPosted.length = 0;
  state.admitted.clear();
  state.faults = { ...NO_FAULTS };
  openAccount(state);
}

/** The account as the options open it: balances, opt-out list and templates. */
function openAccount(state: SandboxState): void {
  const { options, clock } = state;
  state.smsBalance = options.balance ?? 1_000_000;
  state.mmsBalance = options.mmsBalance ?? 0;
  state.optOuts.clear();
  addOptOuts(state, options.optOuts ?? []);
  state.templates.length = 0;
  state.templates.push(...(options.templates ?? []).map((seed) => templateFromSeed(seed, clock.now())));
}

/** A number as the provider shows it: live answers drop the '+', the documentation keeps it. */
export function echoNumber(state: SandboxState, digits: string): string {
  return state.options.numberEcho === 'doc' ? `+${digits}` : digits;
}
