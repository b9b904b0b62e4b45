// The sandbox's own control API under /_sandbox, for tests and operators: the call record, fault
// injection, the cap, inbound SMS, reset, and a Turnstile stand-in. Not part of the provider's
// API; nothing here exposes the APPKEY.
import type { Express } from 'express';
import { basicUser, isAccountKey } from './guards';
import type { InboundInput } from './inbox';
import type { SandboxState } from './state';
import { mountTurnstile } from './turnstile';
import type { Faults, InboundMessage } from './types';

export interface SandboxControls {
  setFaults(faults: Partial<Faults>): void;
  injectInbound(input: InboundInput): InboundMessage;
  reset(): void;
}

export function mountControlRoutes(app: Express, state: SandboxState, controls: SandboxControls): void {
  app.get('/_sandbox/calls', (_req, res) => {
    res.json(
      state.calls.map(({ appKey, authorization, ...call }) => ({
        ...call,
        auth: appKey !== undefined ? 'appkey' : authorization?.startsWith('Basic ') ? 'basic' : 'none',
        keyValid: isAccountKey(state, appKey) || isAccountKey(state, basicUser(authorization)),
      })),
    );
  });
  app.post('/_sandbox/faults', (req, res) => {
    controls.setFaults(req.body as Partial<Faults>);
    res.json(state.faults);
  });
  mountTurnstile(app, '/_sandbox/turnstile/v0/siteverify', state.clock);
  app.post('/_sandbox/reset', (_req, res) => {
    controls.reset();
    res.json({ reset: true });
  });
  app.post('/_sandbox/limit', (req, res) => {
    const limit = Number((req.body as { callsPerSecond?: unknown }).callsPerSecond);
    state.callsPerSecond = Number.isFinite(limit) && limit > 0 ? limit : Infinity;
    res.json({ callsPerSecond: String(state.callsPerSecond) });
  });
  app.post('/_sandbox/inbound', (req, res) => {
    const body = req.body as { from?: string; body?: string; originalMessageId?: string };
    res.json(
      controls.injectInbound({
        from: body.from ?? '61400000000',
        body: body.body ?? '',
        originalMessageId: body.originalMessageId,
      }),
    );
  });
}
