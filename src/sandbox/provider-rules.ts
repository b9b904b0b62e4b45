// The provider's documented input rules (docs/provider.md, "Conventions"), as the
// sandbox enforces them. Kept apart from the gateway's own validation on purpose: the simulator
// must judge the gateway's requests independently, as the real provider would.

export const MAX_NUMBERS_PER_CALL = 1000;
export const MAX_GSM_CHARS = 918;
export const MAX_UNICODE_CHARS = 402;

const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM_EXTENDED = '\f^{}\\[~]|€';

/** Length as the provider counts it: GSM-7 septets (extension characters count 2) or UTF-16 units. */
export function providerTextLength(text: string): { unicode: boolean; length: number } {
  let septets = 0;
  for (const ch of text) {
    if (GSM_BASIC.includes(ch)) septets += 1;
    else if (GSM_EXTENDED.includes(ch)) septets += 2;
    else return { unicode: true, length: text.length };
  }
  return { unicode: false, length: septets };
}

export function segmentCount(text: string): number {
  const { unicode, length } = providerTextLength(text);
  const single = unicode ? 70 : 160;
  const part = unicode ? 67 : 153;
  return length <= single ? 1 : Math.ceil(length / part);
}

/** Sender id: letters, digits, space, dash; numeric up to 16 digits, alphanumeric up to 11 characters. */
export function senderIdProblem(from: string): string | undefined {
  if (from === '') return undefined;
  if (!/^[A-Za-z0-9 -]+$/.test(from)) return 'Sender ID may contain only letters, digits, spaces and dashes';
  if (/^[0-9]+$/.test(from))
    return from.length <= 16 ? undefined : 'Numeric Sender ID may be at most 16 digits';
  return from.length <= 11 ? undefined : 'Alphanumeric Sender ID may be at most 11 characters';
}

/** Accepts the AU formats the provider documents and international E.164; returns digits without '+'. */
export function normaliseNumber(raw: string): string | undefined {
  const compact = raw.replace(/[\s()-]/g, '');
  if (/^04\d{8}$/.test(compact)) return `61${compact.slice(1)}`;
  if (/^4\d{8}$/.test(compact)) return `61${compact}`;
  if (/^\+?614\d{8}$/.test(compact)) return compact.replace(/^\+/, '');
  if (/^\+[1-9]\d{7,14}$/.test(compact) && !compact.startsWith('+61')) return compact.slice(1);
  return undefined;
}

export const TAG_PATTERN = /^[A-Za-z0-9-]*$/;
