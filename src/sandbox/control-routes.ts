// The sandbox's own control API under /_sandbox, for tests and operators: the call record, fault
// injection, the cap, inbound SMS, the account's balance, opt-out list and templates, reset, and a
// Turnstile stand-in. Not part of the provider's API; nothing here exposes the APPKEY.
import type { Express, Response } from 'express';
import { basicUser, isAccountKey } from './guards';
import type { InboundInput } from './inbox';
import type { SandboxState } from './state';
import { mountTurnstile } from './turnstile';
import type { Faults, InboundMessage, ProviderTemplate, TemplateSeed } from './types';

export interface SandboxControls {
  setFaults(faults: Partial<Faults>): void;
  injectInbound(input: InboundInput): InboundMessage;
  setBalance(balances: { sms?: number; mms?: number }): void;
  /** Returns the numbers it could not read (none added then). */
  addOptOuts(numbers: string[]): string[];
  removeOptOut(number: string): boolean;
  setTemplates(seeds: TemplateSeed[]): ProviderTemplate[];
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
  app.post('/_sandbox/account', (req, res) => {
    const { smsBalance, mmsBalance } = req.body as { smsBalance?: unknown; mmsBalance?: unknown };
    for (const [name, value] of Object.entries({ smsBalance, mmsBalance })) {
      if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value)))
        return refuse(res, `${name} must be a number`);
    }
    controls.setBalance({ sms: smsBalance as number | undefined, mms: mmsBalance as number | undefined });
    res.json({ sms_balance: state.smsBalance.toFixed(2), mms_balance: state.mmsBalance.toFixed(2) });
  });
  app.post('/_sandbox/optouts', (req, res) => {
    const { numbers } = req.body as { numbers?: unknown };
    if (!Array.isArray(numbers) || !numbers.every((n) => typeof n === 'string'))
      return refuse(res, 'numbers must be an array of phone numbers');
    const unreadable = controls.addOptOuts(numbers);
    if (unreadable.length > 0) return refuse(res, `not a phone number: ${unreadable.join(', ')}`);
    res.json({ total: state.optOuts.size });
  });
  app.delete('/_sandbox/optouts/:number', (req, res) => {
    res.json({ removed: controls.removeOptOut(req.params.number), total: state.optOuts.size });
  });
  app.post('/_sandbox/templates', (req, res) => {
    const { templates } = req.body as { templates?: unknown };
    const seeds = Array.isArray(templates) ? templates.map(templateSeed) : [undefined];
    if (seeds.some((seed) => seed === undefined))
      return refuse(res, 'templates must be an array of {title, message, templateId?}');
    res.json(controls.setTemplates(seeds as TemplateSeed[]));
  });
}

function templateSeed(value: unknown): TemplateSeed | undefined {
  const { templateId, title, message } = (value ?? {}) as Record<string, unknown>;
  if (typeof title !== 'string' || typeof message !== 'string' || message === '') return undefined;
  if (templateId !== undefined && (typeof templateId !== 'string' || templateId === '')) return undefined;
  return { title, message, ...(templateId === undefined ? {} : { templateId }) };
}

function refuse(res: Response, problem: string): void {
  res.status(400).json({ error: problem });
}
