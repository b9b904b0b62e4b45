// The account's opt-out list: numbers that replied STOP (or were put there by the operator).
// The provider sends nothing to them; get-optout lists them, a page at a time.
import { formatProviderTime, parseProviderTime } from '../clock';
import { pageOf } from './paging';
import { normaliseNumber } from './provider-rules';
import { ProviderReply, fieldInvalid } from './reply';
import { echoNumber, type SandboxState } from './state';

/**
 * The provider documents an opt-out list but not the words that join it; these are the ones
 * Australian senders conventionally honour (our choice, `optOutKeywords` replaces them).
 */
const DEFAULT_OPT_OUT_KEYWORDS = ['STOP', 'STOP ALL', 'UNSUBSCRIBE', 'OPT OUT', 'OPTOUT'];

/** Puts numbers on the opt-out list (one already there keeps its date); returns those not understood. */
export function addOptOuts(state: SandboxState, numbers: string[]): string[] {
  const unreadable: string[] = [];
  for (const raw of numbers) {
    const number = normaliseNumber(raw);
    if (number === undefined) unreadable.push(raw);
    else if (!state.optOuts.has(number)) state.optOuts.set(number, { number, optedOutAt: state.clock.now() });
  }
  return unreadable;
}

export function removeOptOut(state: SandboxState, raw: string): boolean {
  const number = normaliseNumber(raw);
  return number !== undefined && state.optOuts.delete(number);
}

export function isOptedOut(state: SandboxState, number: string): boolean {
  return state.optOuts.has(number);
}

/** An inbound text that is an opt-out keyword, whatever its case, spacing and punctuation. */
export function isOptOutReply(state: SandboxState, body: string): boolean {
  const words = body
    .toUpperCase()
    .replace(/[^A-Z0-9 ]/g, ' ')
    .trim()
    .replace(/\s+/g, ' ');
  return (state.options.optOutKeywords ?? DEFAULT_OPT_OUT_KEYWORDS).some(
    (keyword) => keyword.toUpperCase() === words,
  );
}

/** GET get-optout: `?page=`, and (S3 only) `DATESTART` / `DATEEND` bounds on when a number opted out. */
export function getOptOut(state: SandboxState, query: Record<string, unknown>): ProviderReply {
  const bounds: number[] = [];
  for (const name of ['DATESTART', 'DATEEND'] as const) {
    const raw = query[name];
    if (raw === undefined || raw === '') {
      bounds.push(name === 'DATESTART' ? -Infinity : Infinity);
      continue;
    }
    const at = typeof raw === 'string' ? parseProviderTime(raw, state.timezone) : undefined;
    if (at === undefined) return fieldInvalid(`${name} must be in Y-m-d H:i:s format`);
    bounds.push(at);
  }
  const [from = -Infinity, to = Infinity] = bounds;
  const contacts = [...state.optOuts.values()].filter((c) => c.optedOutAt >= from && c.optedOutAt <= to);
  const page = pageOf(contacts, query.page, state.options.pageSize);
  if (page instanceof ProviderReply) return page;
  return new ProviderReply(200, 'SUCCESS', `You have ${contacts.length} optout contact(s)`, {
    page: page.block,
    total: String(contacts.length),
    responses: page.rows.map((contact) => ({
      number: echoNumber(state, contact.number),
      first_name: '',
      last_name: '',
      gender: '',
      post_code: '',
      dob: '',
      created_at: formatProviderTime(contact.optedOutAt, state.timezone),
    })),
  });
}
