/**
 * The deepest JSON any request of this API needs is 2 levels (a send's `to` array); 32 leaves
 * room for anything reasonable. The limit exists because the parser is iterative but much of
 * what reads a body afterwards is not: JSON.stringify (idempotency fingerprints, stored payloads)
 * overflows the stack near 10,000 levels, which used to be a 500.
 */
export const MAX_JSON_DEPTH = 32;

/**
 * Whether a parsed JSON value nests containers deeper than `max` (`{}` is 1, `{"a":[]}` is 2).
 * Walked with an explicit stack, not recursion, since the input is what may be too deep; it
 * stops at the first path over the limit.
 */
export function exceedsJsonDepth(value: unknown, max: number): boolean {
  const pending: [unknown, number][] = [[value, 1]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [node, depth] = next;
    if (typeof node !== 'object' || node === null) continue;
    if (depth > max) return true;
    for (const child of Object.values(node)) {
      if (typeof child === 'object' && child !== null) pending.push([child, depth + 1]);
    }
  }
  return false;
}
