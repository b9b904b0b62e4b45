import type { Identity } from '../auth';
import type { Clock } from '../clock';
import type { Config, TenantConfig, VerificationConfig } from '../config';
import { ApiError } from '../http';
import { normaliseRecipients, ownNumberProblem, type SendMessages } from '../messages';
import type { Logger } from '../observability';
import { equalsConstantTime, ulidFactory } from '../security';
import type { StoredEvent, VerificationRecord, VerificationRepository } from '../store';
import { codeDigest, generateCode } from './codes';
import { decide, rangeOf, REFUSALS, type Refusal } from './pumping';

export interface VerifierDeps {
  config: Config;
  repository: VerificationRepository;
  sendMessages: SendMessages;
  clock: Clock;
  logger: Logger;
  /** Stored events to publish (SSE) and deliver (webhooks). */
  onEvents: (events: StoredEvent[]) => void;
}

export interface StartRequest {
  to: string;
  channel: 'sms';
  locale?: string | undefined;
}

export interface PublicVerification {
  id: string;
  to: string;
  status: 'pending';
  expiresAt: string;
}

export interface CheckResult {
  id: string;
  to: string;
  status: 'approved' | 'denied';
  /** Why a check was denied. */
  reason: 'wrong_code' | 'expired' | 'locked' | 'canceled' | 'approved' | 'failed' | null;
  checksLeft: number;
}

export interface Verifier {
  start(identity: Identity, request: StartRequest, clientIp: string | null): Promise<PublicVerification>;
  check(identity: Identity, target: { id: string } | { to: string }, code: string): Promise<CheckResult>;
  /** Marks pending codes past their expiry expired (verification.expired); each replica may run it. */
  expireDue(): Promise<number>;
}

const nextUlid = ulidFactory();
const HOUR_MS = 3_600_000;

/**
 * Verification codes: a CSPRNG code sent with the tenant's verification template, kept only as a
 * keyed hash, checked in constant time at most `maxChecks` times before it expires. Every request
 * passes the pumping limits first (decided in the store's transaction, so replicas agree).
 */
export function createVerifier(deps: VerifierDeps): Verifier {
  const { config, repository, clock, logger } = deps;
  // Config load requires verification.secret when a tenant verifies (random per process in sandbox
  // mode); a gateway where no tenant verifies needs none.
  const secret = config.verification.secret ?? '';
  if (!secret && Object.values(config.tenants).some((tenant) => tenant.verification))
    throw new Error('verification.secret is required');

  function settingsOf(tenantId: string): { tenant: TenantConfig; settings: VerificationConfig } {
    const tenant = config.tenants[tenantId] as TenantConfig;
    if (!tenant.verification) {
      throw new ApiError(
        'FORBIDDEN',
        `verification: not enabled for this tenant (tenants.${tenantId}.verification)`,
      );
    }
    return { tenant, settings: tenant.verification };
  }

  function numberOf(tenant: TenantConfig, to: string): string {
    return normaliseRecipients(to, tenant, config.messages.defaultRegion, 1)[0] as string;
  }

  return {
    async start(identity, request, clientIp) {
      const { tenant, settings } = settingsOf(identity.tenantId);
      const recipient = numberOf(tenant, request.to);
      const notOwn = ownNumberProblem(identity, recipient);
      if (notOwn) throw new ApiError('FORBIDDEN', notOwn);
      const { country, range } = rangeOf(recipient, settings.prefixLength);
      const now = clock.now();
      const id = `vrf_${nextUlid(now)}`;
      const code = generateCode(settings.codeLength);
      const expiresAt = new Date(now + settings.ttlSec * 1000).toISOString();
      let refusal: Refusal | undefined;
      const outcome = await repository.request(
        { tenantId: identity.tenantId, recipient, country, range, clientIp },
        { since: new Date(now - HOUR_MS).toISOString(), now: new Date(now).toISOString() },
        (counts) => {
          const decision = decide(settings, counts, now);
          refusal = decision.refusal;
          return decision;
        },
        { id, codeHash: codeDigest(secret, id, code), expiresAt },
      );
      if (!outcome.sent) {
        deps.onEvents(outcome.events);
        const reason = refusal ?? 'fraud';
        if (outcome.events.length > 0) {
          logger.warn(
            { event: 'fraud.suspected', tenantId: identity.tenantId, range },
            'verification: a number range has many requests and few approvals; refused for an hour',
          );
        }
        throw reason === 'fraud'
          ? new ApiError('FORBIDDEN', `to: ${REFUSALS.fraud}`)
          : new ApiError('OVER_LIMIT', `to: ${REFUSALS[reason]}`, {
              'Retry-After': String(reason === 'cooldown' ? settings.resendCooldownSec : 3600),
            });
      }
      const templateId =
        (request.locale !== undefined && Object.hasOwn(settings.localeTemplates, request.locale)
          ? settings.localeTemplates[request.locale]
          : undefined) ?? settings.template;
      const sendAs: Identity = { ...identity, scopes: ['sms:send:template'] };
      try {
        await deps.sendMessages(
          sendAs,
          // Transactional: a code is never suppressed as marketing, nor given an opt-out footer.
          { to: recipient, template: templateId, params: { code }, purpose: 'transactional' },
          // The ledger keeps the text with the code masked: the code reaches only the provider.
          { ledgerText: (text) => text.split(code).join('•'.repeat(code.length)) },
        );
      } catch (error) {
        await repository.markFailed(identity.tenantId, id, new Date(clock.now()).toISOString());
        throw error;
      }
      return { id, to: recipient, status: 'pending', expiresAt };
    },

    async check(identity, target, code) {
      const { tenant, settings } = settingsOf(identity.tenantId);
      let found: VerificationRecord | undefined;
      if ('id' in target) found = await repository.find(identity.tenantId, target.id);
      else found = await repository.findLatestFor(identity.tenantId, numberOf(tenant, target.to));
      if (!found) {
        throw new ApiError(
          'NOT_FOUND',
          'id' in target
            ? `verification '${target.id.slice(0, 64)}' not found`
            : 'to: no verification for this number',
        );
      }
      const id = found.id;
      const outcome = await repository.check(
        identity.tenantId,
        id,
        new Date(clock.now()).toISOString(),
        settings.maxChecks,
        // Both sides are 64-hex HMAC digests: the compare never sees the code, and its time
        // depends on neither the code nor how much of it is right.
        (stored) => equalsConstantTime(codeDigest(secret, id, code), stored),
      );
      deps.onEvents(outcome.events);
      const { verification } = outcome;
      return {
        id,
        to: verification.recipient,
        status: outcome.result,
        reason: outcome.result === 'approved' ? null : outcome.reason,
        checksLeft:
          verification.status === 'pending' ? Math.max(0, settings.maxChecks - verification.checks) : 0,
      };
    },

    async expireDue() {
      const events = await repository.expireDue(new Date(clock.now()).toISOString(), 500);
      deps.onEvents(events);
      return events.length;
    },
  };
}
