import { z } from 'zod';
import type { PageBlock } from './envelope';
import { parseWith } from './routes';

// The provider's convention, kept end to end: ?page=N (1-based, default 1), 25 items a page,
// a `page` block of {count, number}; a page past the end is empty but tells the true count.
export const PAGE_SIZE = 25;

export interface PageRequest {
  number: number;
  size: number;
  offset: number;
}

const notAPage = (issue: { input?: unknown }) =>
  `expected a whole number from 1, got '${String(issue.input).slice(0, 20)}'`;

/** `?page=N`: the schema a list route documents and checks its query with. */
export const pageQuery = z.object({
  page: z
    .string({ error: notAPage })
    .regex(/^[1-9][0-9]{0,8}$/, { error: notAPage })
    .optional(),
});

export function parsePage(raw: unknown, size = PAGE_SIZE): PageRequest {
  const { page } = parseWith(pageQuery, { page: raw });
  if (page === undefined) return { number: 1, size, offset: 0 };
  const number = Number(page);
  return { number, size, offset: (number - 1) * size };
}

export function pageBlock(page: PageRequest, total: number): PageBlock {
  return { count: Math.ceil(total / page.size), number: page.number };
}
