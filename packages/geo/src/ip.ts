/** Address family of a parsed address: 4, 6, or 0 when the text is not an address. */
export type IpFamily = 0 | 4 | 6;

const CH_TAB = 9;
const CH_SPACE = 32;
const CH_DOT = 46;
const CH_0 = 48;
const CH_9 = 57;
const CH_COLON = 58;
const CH_LOWER_A = 97;
const CH_LOWER_F = 102;
const CH_UPPER_A = 65;
const CH_UPPER_F = 70;
const CH_BRACKET_OPEN = 91;
const CH_UNDERSCORE = 95;

function hexValue(code: number): number {
  if (code >= CH_0 && code <= CH_9) return code - CH_0;
  if (code >= CH_LOWER_A && code <= CH_LOWER_F) return code - CH_LOWER_A + 10;
  if (code >= CH_UPPER_A && code <= CH_UPPER_F) return code - CH_UPPER_A + 10;
  return -1;
}

/** RFC 7239 §6.3 obfuscated port (`_` followed by ALPHA / DIGIT / "." / "_" / "-") or a decimal port 0-65535. */
function isPort(text: string, start: number, end: number): boolean {
  if (start >= end) return false;
  if (text.charCodeAt(start) === CH_UNDERSCORE) {
    if (end - start < 2) return false;
    for (let i = start + 1; i < end; i++) {
      const c = text.charCodeAt(i);
      const ok = (c >= CH_0 && c <= CH_9) || (c >= CH_UPPER_A && c <= 90) || (c >= CH_LOWER_A && c <= 122) || c === CH_DOT || c === CH_UNDERSCORE || c === 45;
      if (!ok) return false;
    }
    return true;
  }
  if (end - start > 5) return false;
  let value = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < CH_0 || c > CH_9) return false;
    value = value * 10 + (c - CH_0);
  }
  return value <= 65535;
}

/**
 * Parses textual IP addresses into four 32-bit words without allocating. One instance belongs to
 * one compiled matcher or resolver and is reused for every call; JavaScript runs each call to
 * completion, so the shared scratch state is never observed half-written.
 *
 * Accepts what shows up in sockets and forwarding headers: `1.2.3.4`, `1.2.3.4:8080`, `::1`,
 * `[2001:db8::1]:443`, `fe80::1%eth0`, `::ffff:1.2.3.4` (reported as IPv4), surrounding spaces.
 * Rejects leading zeros in IPv4 octets (ambiguous: octal in some parsers).
 */
export class AddressParser {
  /**
   * The last parsed address as four unsigned 32-bit words, most significant first. IPv4 (and
   * IPv4-mapped IPv6) is in `words[3]`. A plain array: cheaper to create than a typed array, and
   * V8 keeps it as unboxed doubles.
   */
  readonly words: number[] = [0, 0, 0, 0];
  /** Start of the dotted-quad text of the last IPv4 result, or -1 when it came from hex groups. */
  v4Start = -1;
  /** End (exclusive) of the dotted-quad text of the last IPv4 result. */
  v4End = -1;
  readonly #groups: number[] = [0, 0, 0, 0, 0, 0, 0, 0];

  /** Parses `text[start, end)`; returns the family and fills {@link AddressParser.words}. */
  parse(text: string, start = 0, end = text.length): IpFamily {
    while (start < end) {
      const c = text.charCodeAt(start);
      if (c !== CH_SPACE && c !== CH_TAB) break;
      start++;
    }
    while (end > start) {
      const c = text.charCodeAt(end - 1);
      if (c !== CH_SPACE && c !== CH_TAB) break;
      end--;
    }
    if (start >= end || end - start > 200) return 0;
    const first = text.charCodeAt(start);
    if (first === CH_BRACKET_OPEN) {
      const close = text.indexOf(']', start + 1);
      if (close === -1 || close >= end) return 0;
      if (close + 1 < end) {
        if (text.charCodeAt(close + 1) !== CH_COLON || !isPort(text, close + 2, end)) return 0;
      }
      return this.#parse6(text, start + 1, close);
    }
    if (first >= CH_0 && first <= CH_9) {
      // Optimistic IPv4 in one pass (the common case); a run of digits ending at a colon is IPv6.
      let value = 0;
      let octet = 0;
      let digits = 0;
      let dots = 0;
      let leadingZero = false;
      let valid = true;
      let i = start;
      for (; i < end; i++) {
        const c = text.charCodeAt(i);
        if (c === CH_DOT) {
          if (digits === 0 || dots === 3) {
            valid = false;
            break;
          }
          value = value * 256 + octet;
          octet = 0;
          digits = 0;
          dots++;
          continue;
        }
        if (c < CH_0 || c > CH_9) break;
        if (digits === 0) leadingZero = c === CH_0;
        else if (leadingZero) valid = false;
        octet = octet * 10 + (c - CH_0);
        if (++digits > 3 || octet > 255) valid = false;
        if (!valid) break;
      }
      if (dots > 0) {
        if (!valid || dots !== 3 || digits === 0) return 0;
        // A port after the dotted quad, or nothing.
        if (i < end && (text.charCodeAt(i) !== CH_COLON || !isPort(text, i + 1, end))) return 0;
        this.#setV4(value * 256 + octet, start, i);
        return 4;
      }
    }
    return this.#parse6(text, start, end);
  }

  #parse4(text: string, start: number, end: number): boolean {
    let value = 0;
    let octet = 0;
    let digits = 0;
    let dots = 0;
    let leadingZero = false;
    for (let i = start; i < end; i++) {
      const c = text.charCodeAt(i);
      if (c === CH_DOT) {
        if (digits === 0 || dots === 3) return false;
        value = value * 256 + octet;
        octet = 0;
        digits = 0;
        dots++;
        continue;
      }
      if (c < CH_0 || c > CH_9) return false;
      if (digits === 0) leadingZero = c === CH_0;
      else if (leadingZero) return false;
      octet = octet * 10 + (c - CH_0);
      if (++digits > 3 || octet > 255) return false;
    }
    if (digits === 0 || dots !== 3) return false;
    this.#setV4(value * 256 + octet, start, end);
    return true;
  }

  /** Stores an IPv4 address as its IPv4-mapped IPv6 form (`::ffff:a.b.c.d`). */
  #setV4(address: number, start: number, end: number): void {
    const words = this.words;
    words[0] = 0;
    words[1] = 0;
    words[2] = 0xffff;
    words[3] = address;
    this.v4Start = start;
    this.v4End = end;
  }

  #parse6(text: string, start: number, end: number): IpFamily {
    const zone = text.indexOf('%', start);
    if (zone !== -1 && zone < end) {
      if (zone + 1 === end) return 0;
      end = zone;
    }
    if (start >= end) return 0;
    const groups = this.#groups;
    let count = 0;
    let compressAt = -1;
    let i = start;
    if (text.charCodeAt(i) === CH_COLON) {
      if (i + 1 >= end || text.charCodeAt(i + 1) !== CH_COLON) return 0;
      compressAt = 0;
      i += 2;
    }
    let embedded = false;
    while (i < end) {
      let value = 0;
      let digits = 0;
      let j = i;
      for (; j < end && digits < 5; j++) {
        const h = hexValue(text.charCodeAt(j));
        if (h === -1) break;
        value = value * 16 + h;
        digits++;
      }
      if (j < end && text.charCodeAt(j) === CH_DOT) {
        // RFC 4291 §2.2: the last 32 bits may be written as a dotted quad.
        if (count > 6 || !this.#parse4(text, i, end)) return 0;
        const v4 = this.words[3]!;
        groups[count++] = v4 >>> 16;
        groups[count++] = v4 & 0xffff;
        embedded = true;
        break;
      }
      if (digits === 0 || digits > 4 || count === 8) return 0;
      groups[count++] = value;
      if (j === end) break;
      if (text.charCodeAt(j) !== CH_COLON) return 0;
      j++;
      if (j < end && text.charCodeAt(j) === CH_COLON) {
        if (compressAt !== -1) return 0;
        compressAt = count;
        j++;
      } else if (j === end) {
        return 0;
      }
      i = j;
    }
    if (compressAt === -1) {
      if (count !== 8) return 0;
    } else {
      if (count > 7) return 0;
      const tail = count - compressAt;
      for (let k = 1; k <= tail; k++) groups[8 - k] = groups[compressAt + tail - k]!;
      for (let k = compressAt; k < 8 - tail; k++) groups[k] = 0;
    }
    const words = this.words;
    words[0] = ((groups[0]! << 16) | groups[1]!) >>> 0;
    words[1] = ((groups[2]! << 16) | groups[3]!) >>> 0;
    words[2] = ((groups[4]! << 16) | groups[5]!) >>> 0;
    words[3] = ((groups[6]! << 16) | groups[7]!) >>> 0;
    if (words[0] === 0 && words[1] === 0 && words[2] === 0xffff) {
      // RFC 4291 §2.5.5.2: IPv4-mapped IPv6 is the IPv4 host.
      if (!embedded) {
        this.v4Start = -1;
        this.v4End = -1;
      }
      return 4;
    }
    return 6;
  }

  /** The canonical text of the last parse of `text`: dotted quad, or RFC 5952 lower-case IPv6. */
  format(text: string, family: IpFamily): string {
    if (family === 4) {
      if (this.v4Start === 0 && this.v4End === text.length) return text;
      if (this.v4Start !== -1) return text.slice(this.v4Start, this.v4End);
      return formatV4(this.words[3]!);
    }
    return formatV6(this.words);
  }
}

/** Formats a 32-bit IPv4 address as a dotted quad. */
export function formatV4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

/** Formats an IPv6 address (four words) in the RFC 5952 canonical form. */
export function formatV6(words: ArrayLike<number>): string {
  const groups: number[] = [];
  for (let i = 0; i < 4; i++) {
    const w = words[i]!;
    groups.push(w >>> 16, w & 0xffff);
  }
  // RFC 5952 §4.2: compress the longest run (first on ties) of two or more zero groups.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string => groups.slice(from, to).map((g) => g.toString(16)).join(':');
  if (bestStart === -1) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

/**
 * Normalises an address for comparison, logging and forwarding headers: trims spaces, strips
 * brackets, port and IPv6 zone, turns IPv4-mapped IPv6 into IPv4 and writes IPv6 in the RFC 5952
 * lower-case compressed form. Returns `undefined` when `text` is not an IP address.
 *
 * @example normalizeIp('[::FFFF:203.0.113.9]:443') // '203.0.113.9'
 */
export function normalizeIp(text: string): string | undefined {
  if (typeof text !== 'string') return undefined;
  const parser = new AddressParser();
  const family = parser.parse(text);
  return family === 0 ? undefined : parser.format(text, family);
}

/** The family of an address after normalisation (IPv4-mapped IPv6 counts as 4), or 0 for anything else. */
export function ipFamily(text: string): IpFamily {
  if (typeof text !== 'string') return 0;
  return new AddressParser().parse(text);
}

/**
 * Formats an address as an RFC 7239 node for `Forwarded: for=...`: IPv4 bare, IPv6 bracketed and
 * quoted. Anything that is not an address becomes the RFC 7239 `unknown` identifier.
 *
 * @example `Forwarded: for=${formatForwardedNode('2001:db8::1')}` // for="[2001:db8::1]"
 */
export function formatForwardedNode(ip: string): string {
  const normalized = normalizeIp(ip);
  if (normalized === undefined) return 'unknown';
  return normalized.includes(':') ? `"[${normalized}]"` : normalized;
}

/**
 * True for globally routable unicast addresses, false for the special-purpose ranges a geolocation
 * database cannot place (RFC 6890): unspecified, loopback, private (RFC 1918, RFC 4193), shared
 * CGNAT space (RFC 6598), link-local, documentation, benchmarking, multicast and reserved space.
 */
export function isPublicWords(family: IpFamily, words: ArrayLike<number>): boolean {
  if (family === 4) {
    const x = words[3]!;
    const a = x >>> 24;
    if (a === 0 || a === 10 || a === 127 || a >= 224) return false;
    const b16 = x >>> 16;
    const b24 = x >>> 8;
    return !(
      (x & 0xffc00000) >>> 0 === 0x64400000 || // 100.64.0.0/10
      b16 === 0xa9fe || // 169.254.0.0/16
      (x & 0xfff00000) >>> 0 === 0xac100000 || // 172.16.0.0/12
      b24 === 0xc00000 || // 192.0.0.0/24
      b24 === 0xc00002 || // 192.0.2.0/24
      b16 === 0xc0a8 || // 192.168.0.0/16
      (x & 0xfffe0000) >>> 0 === 0xc6120000 || // 198.18.0.0/15
      b24 === 0xc63364 || // 198.51.100.0/24
      b24 === 0xcb0071 // 203.0.113.0/24
    );
  }
  if (family === 6) {
    const w0 = words[0]!;
    if (w0 === 0 && words[1] === 0 && words[2] === 0) return false; // ::/96: unspecified, loopback, IPv4-compatible
    const top8 = w0 >>> 24;
    if (top8 === 0xff) return false; // ff00::/8 multicast
    if ((w0 & 0xfe000000) >>> 0 === 0xfc000000) return false; // fc00::/7 unique local
    const top10 = (w0 & 0xffc00000) >>> 0;
    if (top10 === 0xfe800000 || top10 === 0xfec00000) return false; // fe80::/10 link-local, fec0::/10 site-local
    if (w0 === 0x20010db8) return false; // 2001:db8::/32 documentation
    if (w0 === 0x01000000 && words[1] === 0) return false; // 100::/64 discard
    return true;
  }
  return false;
}

/**
 * True when `ip` is a globally routable unicast address (see {@link isPublicWords}); false for
 * private, loopback, link-local, documentation and other special-purpose addresses, and for
 * anything that is not an address.
 */
export function isPublicIp(ip: string): boolean {
  if (typeof ip !== 'string') return false;
  const parser = new AddressParser();
  return isPublicWords(parser.parse(ip), parser.words);
}
