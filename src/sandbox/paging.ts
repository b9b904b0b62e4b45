// The provider's pagination: `?page=N` (1-based, default 1) and a `page: {count, number}` block,
// `pageSize` rows a page (25 by default, as the overview says).
import { ProviderReply, fieldInvalid } from './reply';

export interface Page<T> {
  block: { count: number; number: number };
  rows: T[];
}

/** The requested page of `items`; a page past the end is empty, a page that is no number refused. */
export function pageOf<T>(items: T[], rawPage: unknown, size: number): Page<T> | ProviderReply {
  const number = rawPage === undefined || rawPage === '' ? 1 : Number(rawPage);
  if (!Number.isInteger(number) || number < 1) return fieldInvalid('page is invalid');
  return {
    block: { count: Math.ceil(items.length / size), number },
    rows: items.slice((number - 1) * size, number * size),
  };
}
