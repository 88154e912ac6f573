/**
 * RFC 9110 §7.6.1: fields meant for one connection, never forwarded. `Proxy-Connection` is the
 * non-standard predecessor of `Connection`; `Proxy-Authorization` and `Proxy-Authenticate` carry
 * credentials for this hop (RFC 9110 §11.7), so they are consumed here as well.
 */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'te',
  'transfer-encoding',
  'upgrade',
  'trailer',
  'proxy-authenticate',
  'proxy-authorization',
]);

const CH_SPACE = 32;
const CH_TAB = 9;

/**
 * The field names listed in a `Connection` value (RFC 9110 §7.6.1), lower-cased, without the
 * `close` and `keep-alive` options that name no field. Empty when nothing else is named.
 */
export function connectionTokens(value: string): string[] {
  const tokens: string[] = [];
  let start = 0;
  const length = value.length;
  while (start <= length) {
    let end = value.indexOf(',', start);
    if (end === -1) end = length;
    let a = start;
    let b = end;
    while (a < b && (value.charCodeAt(a) === CH_SPACE || value.charCodeAt(a) === CH_TAB)) a++;
    while (b > a && (value.charCodeAt(b - 1) === CH_SPACE || value.charCodeAt(b - 1) === CH_TAB)) b--;
    if (b > a) {
      const token = value.slice(a, b).toLowerCase();
      if (token !== 'close' && token !== 'keep-alive') tokens.push(token);
    }
    if (end === length) break;
    start = end + 1;
  }
  return tokens;
}

/** Removes every `name, value` pair of a flat header list whose lower-cased name is in `names`, in place. */
export function removeNamedHeaders(flat: string[], names: readonly string[], from = 0): void {
  let write = from;
  for (let read = from; read < flat.length; read += 2) {
    const name = flat[read]!;
    if (names.includes(name.toLowerCase())) continue;
    flat[write] = name;
    flat[write + 1] = flat[read + 1]!;
    write += 2;
  }
  flat.length = write;
}
