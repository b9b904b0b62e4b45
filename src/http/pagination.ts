import { ApiError } from './errors';
import type { PageBlock } from './envelope';

// The provider's convention, kept end to end: ?page=N (1-based, default 1), 25 items a page,
// a `page` block of {count, number}; a page past the end is empty but tells the true count.
export const PAGE_SIZE = 25;

export interface PageRequest {
  number: number;
  size: number;
  offset: number;
}

export function parsePage(raw: unknown, size = PAGE_SIZE): PageRequest {
  if (raw === undefined) return { number: 1, size, offset: 0 };
  const text = Array.isArray(raw) ? undefined : raw;
  if (typeof text !== 'string' || !/^[1-9][0-9]{0,8}$/.test(text)) {
    throw new ApiError(
      'FIELD_INVALID',
      `page: expected a whole number from 1, got '${String(raw).slice(0, 20)}'`,
    );
  }
  const number = Number(text);
  return { number, size, offset: (number - 1) * size };
}

export function pageBlock(page: PageRequest, total: number): PageBlock {
  return { count: Math.ceil(total / page.size), number: page.number };
}
