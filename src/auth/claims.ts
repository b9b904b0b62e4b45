/**
 * Reads a claim by name or by a path into nested claims. Identity providers put custom claims in
 * namespaced top-level names that contain dots themselves (`https://example.com/claims`) or in
 * nested objects (`app_metadata.tenant`), so a path is a claim name, or a key, a dot and the rest
 * of the path, where at each level the LONGEST key that matches is taken:
 * `https://example.com/claims.tenant` reads `payload["https://example.com/claims"].tenant`, and a
 * top-level claim literally named `https://example.com/tenant` is read as it is. Own keys only.
 */
export function claimAt(payload: unknown, path: string): unknown {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return undefined;
  const record = payload as Record<string, unknown>;
  if (Object.hasOwn(record, path)) return record[path];
  let best: string | undefined;
  for (const key of Object.keys(record)) {
    if (path.startsWith(`${key}.`) && (best === undefined || key.length > best.length)) best = key;
  }
  return best === undefined ? undefined : claimAt(record[best], path.slice(best.length + 1));
}
