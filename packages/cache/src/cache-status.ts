/**
 * `Cache-Status` values (RFC 9211). `fwd` says why the request went forward: `uri-miss` (nothing
 * stored for the URL), `vary-miss` (nothing for this variant), `miss` (an entry was unusable, e.g.
 * invalidated), `stale` (it needed revalidation), `request` (the client asked for it), `method`
 * and `bypass` (the request is not cacheable).
 */
export type ForwardReason = 'uri-miss' | 'vary-miss' | 'miss' | 'stale' | 'request' | 'method' | 'bypass';

const TOKEN = /^[A-Za-z*][A-Za-z0-9!#$%&'*+\-.^_`|~:/]*$/;

/** True when `name` can be the cache's identifier in `Cache-Status` (an sf-token). */
export function isCacheStatusName(name: string): boolean {
  return TOKEN.test(name) && name.length <= 64;
}

/** `<name>; hit; ttl=<s>`, with `detail` for stale answers. */
export function hitStatus(name: string, ttlMs: number, detail?: string): string {
  const value = `${name}; hit; ttl=${Math.trunc(ttlMs / 1000)}`;
  return detail === undefined ? value : `${value}; detail=${detail}`;
}

/** `<name>; fwd=<reason>[; fwd-status=<n>][; ttl=<s>][; stored][; collapsed][; detail=<d>]`. */
export function forwardStatus(
  name: string,
  fwd: ForwardReason,
  options: { status?: number | undefined; ttlMs?: number | undefined; stored?: boolean; collapsed?: boolean; detail?: string | undefined } = {},
): string {
  let value = `${name}; fwd=${fwd}`;
  if (options.status !== undefined) value += `; fwd-status=${options.status}`;
  if (options.ttlMs !== undefined) value += `; ttl=${Math.trunc(options.ttlMs / 1000)}`;
  if (options.stored) value += '; stored';
  if (options.collapsed) value += '; collapsed';
  if (options.detail !== undefined) value += `; detail=${options.detail}`;
  return value;
}
