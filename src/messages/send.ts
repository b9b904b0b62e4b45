import { monotonicFactory } from 'ulid';
import type { Identity } from '../auth';
import { formatProviderTime, type Clock } from '../clock';
import type { Config, Scope, TenantConfig } from '../config';
import { ApiError } from '../http';
import type { QuotaReservation, QuotaService } from '../limits';
import type { Logger } from '../observability';
import type { SendThroughBudget } from '../scheduler';
import type { MessageOutcome, MessageRecord, MessageRepository } from '../store';
import { renderTemplate, TemplateParamError } from '../templates';
import { UpstreamError, type ProviderSendRequest, type ProviderSendResult } from '../upstream';
import {
  chooseSender,
  measureText,
  normaliseRecipients,
  parseScheduleAt,
  parseSendRequest,
  type TextMeasure,
} from './validation';

export interface MessagesDeps {
  config: Config;
  repository: MessageRepository;
  /** The one way to the provider: through the upstream budget, coalesced where possible. */
  sendThroughBudget: SendThroughBudget;
  quotas: QuotaService;
  clock: Clock;
  logger: Logger;
  /** A durable send was queued: the worker may look now. */
  onQueued?: () => void;
}

/** What a durable send job carries: the provider request and the quota it holds. */
export interface QueuedSend {
  provider: ProviderSendRequest;
  reservation: QuotaReservation;
}

export interface SendOptions {
  async?: boolean;
  /**
   * For texts that carry a secret (a verification code): what the ledger records instead of the
   * text, which then reaches only the provider. Not with `async` (the job would hold the text).
   */
  ledgerText?: (text: string) => string;
}

export type SendMessages = (identity: Identity, body: unknown, options?: SendOptions) => Promise<SendResult>;

/**
 * The text rule of the send scopes: `sms:send` may send any text; `sms:send:template` only
 * templates. (The recipient rule of `sms:send:self` sits beside it.) A token with neither may not send.
 */
export function checkTextScope(scopes: readonly Scope[], usesTemplate: boolean): void {
  if (scopes.includes('sms:send')) return;
  if (scopes.includes('sms:send:template')) {
    if (usesTemplate) return;
    throw new ApiError(
      'FORBIDDEN',
      "text: this token may send templates only (scope 'sms:send:template'): send template and params",
    );
  }
  throw new ApiError('FORBIDDEN', "scope: sending needs 'sms:send' or 'sms:send:template'");
}

/** A validated send: who, to whom, what, and how it will be counted and billed. */
interface SendDraft {
  tenantId: string;
  recipients: string[];
  sender: string;
  text: string;
  measure: TextMeasure;
  scheduledAt: number | undefined;
  reference: string | null;
}

export interface SendResult {
  messages: PublicMessage[];
  total: number;
  segments: number;
}

export interface PublicMessage {
  id: string;
  to: string;
  from: string;
  status: string;
  segments: number;
  encoding: string;
  createdAt: string;
  scheduledAt: string | null;
  reference: string | null;
  error: string | null;
}

// ULIDs sort by creation time (lists are newest first) and stay ordered within one millisecond.
const nextUlid = monotonicFactory();

export function createMessageSender(deps: MessagesDeps): SendMessages {
  const { config, repository, sendThroughBudget, quotas, clock, logger } = deps;

  /**
   * validate → reserve quota → record as queued → provider call within the upstream budget →
   * record the outcome. Async (`Prefer: respond-async`): the record and its send job are committed
   * together and the answer is given; the send worker makes the call.
   */
  return async function sendMessages(identity, body, options = {}) {
    if (options.async && options.ledgerText)
      throw new Error('a send whose text is kept from the ledger cannot be durable');
    const draft = validateSend(identity, body);
    const reservation = await quotas.reserve(
      identity.tenantId,
      draft.recipients.length * draft.measure.segments,
    );
    const batch = buildBatch(draft, options.ledgerText);
    const provider = providerRequest(draft, batch[0]?.batchId ?? '');
    const job = options.async
      ? {
          tenantId: identity.tenantId,
          request: JSON.stringify({ provider, reservation } satisfies QueuedSend),
          expiresAt: new Date(clock.now() + config.messages.asyncExpirySec * 1000).toISOString(),
        }
      : undefined;
    // Recorded before the provider call, so a crash mid-call leaves evidence to reconcile.
    await repository.insertBatch(batch, job).catch(async (error: unknown) => {
      await quotas.release(reservation);
      throw error;
    });
    if (job) {
      deps.onQueued?.();
      return present(batch);
    }
    let answer: ProviderSendResult;
    try {
      answer = await sendThroughBudget(identity.tenantId, provider);
    } catch (error) {
      const outcomeUnknown = await recordFailure(batch, error);
      // Not sent: give the segments back. Outcome unknown: it may have been sent, so keep them.
      if (!outcomeUnknown) await quotas.release(reservation);
      throw error;
    }
    // Past this point the provider has accepted the batch: if recording its answer fails, the
    // messages stay `queued` (to be reconciled from delivery reports), never marked failed.
    const { recorded, refused } = await recordProviderAnswer(batch, answer, draft);
    if (refused > 0) await quotas.release(reservation, refused * draft.measure.segments);
    return present(recorded);
  };

  // The provider adds its low-credit alert to every send once the balance is low; say it once
  // every ten minutes, not once per message.
  let lastLowBalanceWarning = -Infinity;
  function warnLowBalance(alert: string): void {
    if (clock.now() - lastLowBalanceWarning < 10 * 60_000) return;
    lastLowBalanceWarning = clock.now();
    logger.warn({ event: 'provider.low_balance' }, alert);
  }

  function validateSend(identity: Identity, body: unknown): SendDraft {
    const tenantId = identity.tenantId;
    const tenant = config.tenants[tenantId] as TenantConfig;
    const request = parseSendRequest(body);
    checkTextScope(identity.scopes, request.template !== undefined);
    const recipients = normaliseRecipients(
      request.to,
      tenant,
      config.messages.defaultRegion,
      config.messages.maxRecipients,
    );
    const template = request.template === undefined ? undefined : templateOf(tenant, request.template);
    const sender = template ? (template.sender ?? tenant.defaultSender) : chooseSender(request.from, tenant);
    const written = template ? render(template, request.params ?? {}) : (request.text ?? '');
    // The provider wants CRLF line breaks; count the text as it will be sent.
    const text = written.replace(/\r?\n/g, '\r\n');
    const measure = measureText(text);
    if (template && measure.segments > template.maxSegments)
      throw new ApiError(
        'FIELD_INVALID',
        `params: the text would need ${measure.segments} segments, over the template's ${template.maxSegments}`,
      );
    const scheduledAt = parseScheduleAt(request.scheduleAt, clock.now());
    return { tenantId, recipients, sender, text, measure, scheduledAt, reference: request.reference ?? null };
  }

  function templateOf(tenant: TenantConfig, id: string) {
    const template = Object.hasOwn(tenant.templates, id) ? tenant.templates[id] : undefined;
    if (!template)
      throw new ApiError('FIELD_INVALID', `template: '${id.slice(0, 64)}' is not a template of this tenant`);
    return template;
  }

  function render(template: TenantConfig['templates'][string], params: Record<string, string>): string {
    try {
      return renderTemplate(template, params);
    } catch (error) {
      if (error instanceof TemplateParamError) throw new ApiError('FIELD_INVALID', error.message);
      throw error;
    }
  }

  function providerRequest(draft: SendDraft, batchId: string): ProviderSendRequest {
    return {
      text: draft.text,
      numbers: draft.recipients,
      from: draft.sender,
      customString: batchId,
      ...(draft.scheduledAt !== undefined
        ? { scheduleTime: formatProviderTime(draft.scheduledAt, config.upstream.timezone) }
        : {}),
    };
  }

  function buildBatch(draft: SendDraft, ledgerText?: (text: string) => string): MessageRecord[] {
    const now = new Date(clock.now()).toISOString();
    const batchId = `b-${nextUlid(clock.now())}`;
    return draft.recipients.map<MessageRecord>((recipient) => ({
      id: `msg_${nextUlid(clock.now())}`,
      tenantId: draft.tenantId,
      batchId,
      recipient,
      sender: draft.sender,
      text: ledgerText ? ledgerText(draft.text) : draft.text,
      segments: draft.measure.segments,
      encoding: draft.measure.encoding,
      status: 'queued',
      reference: draft.reference,
      providerMessageId: null,
      error: null,
      scheduledAt: draft.scheduledAt !== undefined ? new Date(draft.scheduledAt).toISOString() : null,
      createdAt: now,
      updatedAt: now,
    }));
  }

  /**
   * Matches the provider's per-number answers to our messages; numbers it left out were not
   * accepted (`refused`: their quota is given back).
   */
  async function recordProviderAnswer(
    batch: MessageRecord[],
    answer: ProviderSendResult,
    draft: SendDraft,
  ): Promise<{ recorded: MessageRecord[]; refused: number }> {
    const outcomes = outcomesOfAnswer(batch, answer, draft.scheduledAt !== undefined);
    if (answer.lowBalanceAlert) warnLowBalance(answer.lowBalanceAlert);
    const refused = outcomes.filter((o) => o.status === 'failed').length;
    const now = new Date(clock.now()).toISOString();
    const { applied } = await repository.recordOutcomes(outcomes, now);
    // A delivery report can beat the provider's answer to us: the ledger is then ahead; show it.
    if (applied.length < outcomes.length) {
      return { recorded: await repository.findBatch(batch[0]?.batchId ?? ''), refused };
    }
    const byId = new Map(outcomes.map((o) => [o.id, o]));
    const recorded = batch.map((message) => {
      const outcome = byId.get(message.id);
      return {
        ...message,
        status: outcome?.status ?? message.status,
        providerMessageId: outcome?.providerMessageId ?? null,
        error: outcome?.error ?? null,
        updatedAt: now,
      };
    });
    return { recorded, refused };
  }

  /** A provider timeout leaves the outcome unknown (reconciled later, never blindly resent); anything else was not sent. */
  /** Marks the batch failed (not sent) or unknown (provider timeout); says whether it is unknown. */
  async function recordFailure(batch: MessageRecord[], error: unknown): Promise<boolean> {
    const unknown = error instanceof UpstreamError && error.kind === 'timeout';
    const reason = error instanceof ApiError ? error.description : 'internal error';
    const status = unknown ? 'unknown' : 'failed';
    try {
      await repository.recordOutcomes(
        batch.map((m) => ({ id: m.id, status, error: reason })),
        new Date(clock.now()).toISOString(),
      );
    } catch (storeError) {
      logger.error(
        { err: storeError, batchId: batch[0]?.batchId },
        'could not record the outcome of a failed send',
      );
    }
    return unknown;
  }
}

/** The provider's per-number answer for each message; numbers it left out were not accepted. */
export function outcomesOfAnswer(
  batch: MessageRecord[],
  answer: ProviderSendResult,
  scheduled: boolean,
): MessageOutcome[] {
  const byNumber = new Map(answer.messages.map((m) => [m.to, m.providerMessageId]));
  return batch.map((message) => {
    const providerMessageId = byNumber.get(message.recipient);
    return providerMessageId
      ? { id: message.id, status: scheduled ? 'scheduled' : 'sent', providerMessageId }
      : { id: message.id, status: 'failed', error: 'the provider did not accept this number' };
  });
}

function present(batch: MessageRecord[]): SendResult {
  const messages = batch.map(toPublicMessage);
  const segments = batch.filter((m) => m.status !== 'failed').reduce((sum, m) => sum + m.segments, 0);
  return { messages, total: messages.length, segments };
}

export function toPublicMessage(message: MessageRecord): PublicMessage {
  return {
    id: message.id,
    to: message.recipient,
    from: message.sender,
    status: message.status,
    segments: message.segments,
    encoding: message.encoding,
    createdAt: message.createdAt,
    scheduledAt: message.scheduledAt,
    reference: message.reference,
    error: message.error,
  };
}
