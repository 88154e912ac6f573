/**
 * A set of header field names looked up in a request's raw header list (`req.rawHeaders`): one
 * pass over the names the client sent, each compared only with the names of its length, ASCII
 * case-insensitively, with `_` matching `-` (CGI-style origins such as WSGI, Rack and PHP read
 * `X_Original_URL` as `X-Original-URL`), with no allocation per request. Checking a handful of absent names on
 * `req.headers` instead costs one generic property lookup per name on every request.
 */
export class HeaderNameSet {
  /** The names, lower-case, in the order given. */
  readonly names: readonly string[];
  readonly #byLength: Array<string[] | undefined> = [];

  constructor(names: Iterable<string>) {
    const lower: string[] = [];
    for (const name of names) {
      if (typeof name !== 'string' || name === '') throw new TypeError(`HeaderNameSet: a header name must be a non-empty string (got ${JSON.stringify(name)})`);
      const value = name.toLowerCase();
      if (lower.includes(value)) continue;
      lower.push(value);
      (this.#byLength[value.length] ??= []).push(value);
    }
    this.names = lower;
  }

  /** The set's lower-case name equal to `name` (any case), or `undefined`. */
  match(name: string): string | undefined {
    const candidates = this.#byLength[name.length];
    if (candidates === undefined) return undefined;
    for (let i = 0; i < candidates.length; i++) if (equalsLowerCase(name, candidates[i]!)) return candidates[i];
    return undefined;
  }

  /** The first name of the set that a raw header list (`[name, value, name, value, …]`) carries, lower-case; `undefined` when none. */
  firstIn(rawHeaders: readonly string[]): string | undefined {
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const found = this.match(rawHeaders[i]!);
      if (found !== undefined) return found;
    }
    return undefined;
  }
}

/** Whether `name` equals `lower` (already lower-case) ignoring ASCII case, `_` matching `-` on either side; lengths are equal. */
function equalsLowerCase(name: string, lower: string): boolean {
  for (let i = 0; i < name.length; i++) {
    let c = name.charCodeAt(i);
    if (c >= 65 && c <= 90) c |= 0x20;
    else if (c === 0x5f) c = 0x2d;
    let d = lower.charCodeAt(i);
    if (d === 0x5f) d = 0x2d;
    if (c !== d) return false;
  }
  return true;
}
