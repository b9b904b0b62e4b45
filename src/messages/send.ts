import { monotonicFactory } from 'ulid';
import type { Identity } from '../auth';
import { formatProviderTime, type Clock } from '../clock';
import type { Config, TenantConfig } from '../config';
import { ApiError } from '../http';
import type { QuotaReservation, QuotaService } from '../limits';
import type { Logger } from '../observability';
import type { SendThroughBudget } from '../scheduler';
import type { MessageOutcome, MessageRecord, MessageRepository } from '../store';
import { UpstreamError, type ProviderSendRequest, type ProviderSendResult } from '../upstream';
import {
  chooseSender,
  measureText,
  normaliseRecipients,
  parseScheduleAt,
  parseSendRequest,
  type TextMeasure,
} from './validation';
import { recipientProblem } from './send-rules';

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

export type SendMessages = (
  identity: Identity,
  body: unknown,
  options?: { async?: boolean },
) => Promise<SendResult>;

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
    const draft = validateSend(identity, body);
    const reservation = await quotas.reserve(
      identity.tenantId,
      draft.recipients.length * draft.measure.segments,
    );
    const batch = buildBatch(draft);
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
    const recipients = normaliseRecipients(
      request.to,
      tenant,
      config.messages.defaultRegion,
      config.messages.maxRecipients,
    );
    // Who may receive, by the token's sending scopes: refused before anything is reserved or stored.
    const refusal = recipientProblem(identity, recipients);
    if (refusal) throw new ApiError('FORBIDDEN', refusal);
    const sender = chooseSender(request.from, tenant);
    // The provider wants CRLF line breaks; count the text as it will be sent.
    const text = request.text.replace(/\r?\n/g, '\r\n');
    const measure = measureText(text);
    const scheduledAt = parseScheduleAt(request.scheduleAt, clock.now());
    return {
      tenantId,
      subject: identity.subject ?? null,
      recipients,
      sender,
      text,
      measure,
      scheduledAt,
      reference: request.reference ?? null,
    };
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

  function buildBatch(draft: SendDraft): MessageRecord[] {
    const now = new Date(clock.now()).toISOString();
    const batchId = `b-${nextUlid(clock.now())}`;
    return draft.recipients.map<MessageRecord>((recipient) => ({
      id: `msg_${nextUlid(clock.now())}`,
      tenantId: draft.tenantId,
      batchId,
      recipient,
      sender: draft.sender,
      text: draft.text,
      segments: draft.measure.segments,
      encoding: draft.measure.encoding,
      status: 'queued',
      reference: draft.reference,
      providerMessageId: null,
      error: null,
      scheduledAt: draft.scheduledAt !== undefined ? new Date(draft.scheduledAt).toISOString() : null,
      createdAt: now,
      updatedAt: now,
      subject: draft.subject,
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
