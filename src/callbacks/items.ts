import { MAX_JSON_DEPTH, exceedsJsonDepth } from '../http';

/** A batch item that is not stored: why, and (for the operator) what it was. */
export interface RejectedItem {
  reason: string;
  payload: string;
}

/** How much of a rejected item is kept. */
const MAX_PAYLOAD = 2000;

/**
 * An item nested deeper than any callback needs is rejected on its own before anything walks it;
 * the request as a whole is exempt from the gateway's depth limit so the rest of the batch counts.
 */
export function tooDeep(item: unknown, index: number): RejectedItem | undefined {
  if (!exceedsJsonDepth(item, MAX_JSON_DEPTH)) return undefined;
  return {
    reason: `[${index}]: nested deeper than ${MAX_JSON_DEPTH} levels`,
    payload: rejectedPayload(item),
  };
}

/**
 * The item as JSON, cut to 2000 characters. JSON.stringify recurses, so nesting past the depth
 * limit is written as "…" (tracked through the replacer's holder) instead of overflowing the stack.
 */
export function rejectedPayload(item: unknown): string {
  const depths = new WeakMap<object, number>();
  const text = JSON.stringify(item ?? null, function (this: unknown, _key: string, value: unknown) {
    if (typeof value !== 'object' || value === null) return value;
    const parent = typeof this === 'object' && this !== null ? (depths.get(this) ?? 0) : 0;
    if (parent >= MAX_JSON_DEPTH) return '…';
    depths.set(value, parent + 1);
    return value;
  });
  return text.slice(0, MAX_PAYLOAD);
}
