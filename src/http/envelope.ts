import type { Response } from 'express';
import type { ErrorCode } from './errors';

/** `count` = number of pages, `number` = this page (1-based), as the provider names them. */
export interface PageBlock {
  count: number;
  number: number;
}

export interface Envelope<T> {
  error: { code: 'SUCCESS' | ErrorCode; description: string };
  data: T;
  page?: PageBlock;
}

export function success<T>(data: T, page?: PageBlock): Envelope<T> {
  return page
    ? { error: { code: 'SUCCESS', description: '' }, data, page }
    : { error: { code: 'SUCCESS', description: '' }, data };
}

export function failure(code: ErrorCode, description: string): Envelope<Record<string, never>> {
  return { error: { code, description }, data: {} };
}

export function sendSuccess<T>(res: Response, status: number, data: T, page?: PageBlock): void {
  res.status(status).json(success(data, page));
}
