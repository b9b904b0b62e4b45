import { ulidFactory } from '../security';
import type { Identity } from '../auth';
import { formatProviderTime, type Clock } from '../clock';
import type { Config, TenantConfig } from '../config';
import { ApiError } from '../http';
import type { QuotaReservation, QuotaService } from '../limits';
import type { Logger } from '../observability';
import {
  giveWayToCpuTurns,
  nextCpuTurn,
  requestTurn,
  type SendThroughBudget,
  type TurnKey,
} from '../scheduler';
import type { MessageOutcome, MessageRecord, MessageRepository } from '../store';
import { renderTemplate, TemplateParamError } from '../templates';
import { UpstreamError, type ProviderSendRequest, type ProviderSendResult } from '../upstream';
import {
  chooseSender,
  creditsPerSegment,
  measureText,
  withOptOutInstruction,
  normaliseRecipientsIncrementally,
  parseScheduleAt,
  parseSendRequest,
  type TextMeasure,
} from './validation';
import { recipientProblem, textProblem } from './send-rules';

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
  /** Numbers marketing may not reach (suppression lists); without it nothing is suppressed. */
  suppressions?: SuppressionCheck;
  /** The provider's low-credit alert came with a send answer. */
  onLowBalanceAlert?: (alert: string) => void;
}

/** The numbers among these a tenant may not send marketing to. */
export interface SuppressionCheck {
  suppressedAmong(tenantId: string, numbers: string[]): Promise<Set<string>>;
}

export type Purpose = 'marketing' | 'transactional';

/** Why a suppressed message was not sent (its `error`). */
export const SUPPRESSED_REASON = 'not sent: the recipient opted out of marketing (suppression list)';

/** What a durable send job carries: the provider request and the quota it holds. */
export interface QueuedSend {
  provider: ProviderSendRequest;
  reservation: QuotaReservation;
  /** Marketing jobs are checked against the suppression lists again before the call. */
  purpose?: Purpose;
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

/** A validated send: who, to whom, what, and how it will be counted and billed. */
interface SendDraft {
  tenantId: string;
  /** The sending token's `sub`, recorded on every message. */
  subject: string | null;
  recipients: string[];
  sender: string;
  text: string;
  measure: TextMeasure;
  scheduledAt: number | undefined;
  reference: string | null;
  purpose: Purpose;
}

export interface SendResult {
  messages: PublicMessage[];
  total: number;
  segments: number;
  /** Provider credits of the messages not refused or suppressed (`credits` config, by country). */
  credits: number;
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
  purpose: string | null;
}

// ULIDs sort by creation time (lists are newest first) and stay ordered within one millisecond.
const nextUlid = ulidFactory();

export function createMessageSender(deps: MessagesDeps): SendMessages {
  const { config, repository, sendThroughBudget, quotas, clock, logger } = deps;

  // The provider adds its low-credit alert to every send once the balance is low; say it once
  // every ten minutes, not once per message. Declared before the `return` below: a `let` after it
  // is never initialised, and the first alert was a 500 (ReferenceError).
  let lastLowBalanceWarning = -Infinity;
  function warnLowBalance(alert: string): void {
    deps.onLowBalanceAlert?.(alert);
    if (clock.now() - lastLowBalanceWarning < 10 * 60_000) return;
    lastLowBalanceWarning = clock.now();
    logger.warn({ event: 'provider.low_balance' }, alert);
  }

  /**
   * validate → reserve quota → record as queued → provider call within the upstream budget →
   * record the outcome. Async (`Prefer: respond-async`): the record and its send job are committed
   * together and the answer is given; the send worker makes the call.
   */
  return async function sendMessages(identity, body, options = {}) {
    if (options.async && options.ledgerText)
      throw new Error('a send whose text is kept from the ledger cannot be durable');
    // Sends take turns on the event loop (nextCpuTurn) where a hundred may move at once: the
    // requests that arrived in one turn, and those a provider answer or a group commit resumed.
    // A request took its turn at the HTTP edge once its body was read (src/http/app.ts); here it
    // gives way to the slices waiting, if any, and goes on at once if none does. Its slices are
    // its tenant's, in the order its sends came (src/scheduler/cpu-turns.ts).
    const turn = requestTurn(identity.tenantId);
    await giveWayToCpuTurns(turn);
    const draft = await validateSend(identity, body, turn);
    // Marketing never reaches a suppressed number: recorded `suppressed`, no quota, no provider call.
    const suppressed =
      draft.purpose === 'marketing' && deps.suppressions
        ? await deps.suppressions.suppressedAmong(identity.tenantId, draft.recipients)
        : new Set<string>();
    const sendable = draft.recipients.filter((n) => !suppressed.has(n));
    const credits = sendable.reduce(
      (sum, n) => sum + draft.measure.segments * creditsPerSegment(n, config.credits),
      0,
    );
    const reservation = await quotas.reserve(identity.tenantId, sendable.length * draft.measure.segments, {
      credits,
      ...(identity.endUser !== undefined ? { endUser: identity.endUser } : {}),
    });
    const batch = buildBatch(draft, suppressed, options.ledgerText);
    const toSend = batch.filter((m) => m.status === 'queued');
    const provider = providerRequest(draft, sendable, batch[0]?.batchId ?? '');
    const job =
      options.async && toSend.length > 0
        ? {
            tenantId: identity.tenantId,
            request: JSON.stringify({ provider, reservation, purpose: draft.purpose } satisfies QueuedSend),
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
      return present(batch, config.credits);
    }
    if (toSend.length === 0) return present(batch, config.credits);
    let answer: ProviderSendResult;
    try {
      answer = await sendThroughBudget(identity.tenantId, provider);
    } catch (error) {
      const outcomeUnknown = await recordFailure(toSend, error);
      // Not sent: give the segments back. Outcome unknown: it may have been sent, so keep them.
      if (!outcomeUnknown) await quotas.release(reservation);
      throw error;
    }
    // Past this point the provider has accepted the batch: if recording its answer fails, the
    // messages stay `queued` (to be reconciled from delivery reports), never marked failed.
    const { recorded, refused } = await recordProviderAnswer(toSend, answer, draft);
    if (refused > 0) await quotas.release(reservation, refused * draft.measure.segments);
    await nextCpuTurn(turn);
    const byId = new Map(recorded.map((m) => [m.id, m]));
    return present(
      batch.map((m) => byId.get(m.id) ?? m),
      config.credits,
    );
  };

  async function validateSend(identity: Identity, body: unknown, turn: TurnKey): Promise<SendDraft> {
    const tenantId = identity.tenantId;
    const tenant = config.tenants[tenantId] as TenantConfig;
    const request = parseSendRequest(body);
    // What may be sent, by the token's sending scopes: free text or templates only.
    const textRefusal = textProblem(identity.scopes, request.template !== undefined);
    if (textRefusal) throw new ApiError('FORBIDDEN', textRefusal);
    const recipients = await normaliseRecipientsIncrementally(
      request.to,
      tenant,
      config.messages.defaultRegion,
      config.messages.maxRecipients,
      { next: () => nextCpuTurn(turn) },
    );
    // Who may receive, by the token's sending scopes: refused before anything is reserved or stored.
    const refusal = recipientProblem(identity, recipients);
    if (refusal) throw new ApiError('FORBIDDEN', refusal);
    const template = request.template === undefined ? undefined : templateOf(tenant, request.template);
    const sender = template ? (template.sender ?? tenant.defaultSender) : chooseSender(request.from, tenant);
    const written = template ? render(template, request.params ?? {}) : (request.text ?? '');
    if (template) {
      const rendered = measureText(written.replace(/\r?\n/g, '\r\n'));
      if (rendered.segments > template.maxSegments)
        throw new ApiError(
          'FIELD_INVALID',
          `params: the text would need ${rendered.segments} segments, over the template's ${template.maxSegments}`,
        );
    }
    const purpose = request.purpose ?? tenant.defaultPurpose;
    const withInstruction = purpose === 'marketing' ? withOptOutInstruction(written, tenant) : written;
    // The provider wants CRLF line breaks; count the text as it will be sent (footer included).
    const text = withInstruction.replace(/\r?\n/g, '\r\n');
    const measure = measureText(text);
    const scheduledAt = parseScheduleAt(request.scheduleAt, clock.now());
    const reference = request.reference ?? null;
    const subject = identity.subject ?? null;
    return { tenantId, subject, recipients, sender, text, measure, scheduledAt, reference, purpose };
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

  function providerRequest(draft: SendDraft, numbers: string[], batchId: string): ProviderSendRequest {
    return {
      text: draft.text,
      numbers,
      from: draft.sender,
      customString: batchId,
      ...(draft.scheduledAt !== undefined
        ? { scheduleTime: formatProviderTime(draft.scheduledAt, config.upstream.timezone) }
        : {}),
    };
  }

  function buildBatch(
    draft: SendDraft,
    suppressed: Set<string>,
    ledgerText?: (text: string) => string,
  ): MessageRecord[] {
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
      status: suppressed.has(recipient) ? 'suppressed' : 'queued',
      reference: draft.reference,
      providerMessageId: null,
      error: suppressed.has(recipient) ? SUPPRESSED_REASON : null,
      purpose: draft.purpose,
      subject: draft.subject,
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

/** The answer: every message; segments and credits of those not refused or suppressed. */
function present(batch: MessageRecord[], credits: Config['credits']): SendResult {
  const messages = batch.map(toPublicMessage);
  const counted = batch.filter((m) => m.status !== 'failed' && m.status !== 'suppressed');
  const segments = counted.reduce((sum, m) => sum + m.segments, 0);
  const cost = counted.reduce((sum, m) => sum + m.segments * creditsPerSegment(m.recipient, credits), 0);
  return { messages, total: messages.length, segments, credits: Math.round(cost * 100) / 100 };
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
    purpose: message.purpose ?? null,
  };
}
