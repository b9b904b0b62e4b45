import { DEFAULT_OPT_IN_KEYWORDS, DEFAULT_OPT_OUT_KEYWORDS, type Config } from '../config';
import { ACCOUNT_SCOPE, type OptAction, type OptOutRules } from '../store';

/** Case, spaces and punctuation ignored: `Stop.`, ` stop `, `STOP!` and `Opt-out` match `STOP` / `OPT OUT`. */
export function normaliseKeyword(text: string): string {
  return text
    .normalize('NFKC')
    .toUpperCase()
    .replace(/[^\p{L}\p{N}]/gu, '');
}

function keywordSets(keywords: readonly string[], optIn: readonly string[]) {
  return { out: new Set(keywords.map(normaliseKeyword)), in: new Set(optIn.map(normaliseKeyword)) };
}

/**
 * What a reply does to the suppression lists: a whole text that is one of the tenant's opt-out
 * keywords puts the number on the list, an opt-in keyword takes it off. The list is the tenant's
 * (`optOuts.scope: tenant`) or the account's; a reply routed to nobody can only change the account's.
 */
export function createOptOutRules(config: Config): OptOutRules {
  const defaults = keywordSets(DEFAULT_OPT_OUT_KEYWORDS, DEFAULT_OPT_IN_KEYWORDS);
  const perTenant = new Map(
    Object.entries(config.tenants).map(([id, t]) => [
      id,
      keywordSets(t.optOut.keywords, t.optOut.optInKeywords),
    ]),
  );
  const accountWide = config.optOuts.scope === 'account';
  return {
    changeOf(tenantId, text) {
      const sets = (tenantId !== null ? perTenant.get(tenantId) : undefined) ?? defaults;
      const word = normaliseKeyword(text);
      const action: OptAction | null = sets.out.has(word) ? 'opt_out' : sets.in.has(word) ? 'opt_in' : null;
      if (!action) return null;
      if (accountWide) return { action, scope: ACCOUNT_SCOPE };
      return tenantId === null ? null : { action, scope: tenantId };
    },
    audience: (scope) => (scope === ACCOUNT_SCOPE ? Object.keys(config.tenants) : [scope]),
  };
}
