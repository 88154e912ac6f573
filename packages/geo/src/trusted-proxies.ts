import { describeValue } from '@edgekit/core';
import { AddressParser, type IpFamily } from './ip.js';

const SCOPE = '@edgekit/geo';

/** Named address groups accepted by {@link createTrustedProxies}, next to CIDRs and addresses. */
export const TRUSTED_PROXY_PRESETS = Object.freeze({
  /** 127.0.0.0/8 and ::1. */
  loopback: Object.freeze(['127.0.0.0/8', '::1/128']),
  /** RFC 1918 networks and IPv6 unique local addresses (RFC 4193). */
  private: Object.freeze(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7']),
  /** RFC 3927 and RFC 4291 link-local networks. */
  linklocal: Object.freeze(['169.254.0.0/16', 'fe80::/10']),
  /** IPv6 unique local addresses (RFC 4193). */
  uniquelocal: Object.freeze(['fc00::/7']),
});

/** A preset name of {@link TRUSTED_PROXY_PRESETS}. */
export type TrustedProxyPreset = keyof typeof TRUSTED_PROXY_PRESETS;

/** Decides whether an address belongs to a proxy whose forwarding headers may be believed. */
export type TrustedProxyPredicate = (ip: string) => boolean;

/**
 * Which peers are trusted to report the client address: a compiled predicate (fastest, see
 * {@link createTrustedProxies}), a list of CIDRs, addresses and preset names, or one string with a
 * comma-separated list (`'loopback, 10.0.0.0/8'`).
 */
export type TrustedProxies = TrustedProxyPredicate | string | readonly string[];

const kMatcher = Symbol('edgekit.geo.addressMatcher');

interface Range6 {
  start: Uint32Array;
  end: Uint32Array;
}

function compare6(a: ArrayLike<number>, aOffset: number, b: ArrayLike<number>, bOffset: number): number {
  for (let i = 0; i < 4; i++) {
    const x = a[aOffset + i]!;
    const y = b[bOffset + i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** 128-bit `value + 1` for adjacency checks; wraps to zero past the top, which callers guard. */
function increment6(words: Uint32Array): Uint32Array {
  const out = Uint32Array.from(words);
  for (let i = 3; i >= 0; i--) {
    out[i] = (out[i]! + 1) >>> 0;
    if (out[i] !== 0) break;
  }
  return out;
}

/**
 * Sorted, merged address ranges with a binary search per family: O(log n) per match, no
 * allocation, and no regular expression at match time.
 */
export class AddressMatcher {
  readonly #v4Starts: Float64Array;
  readonly #v4Ends: Float64Array;
  /** Eight words per range: start (4) then end (4). */
  readonly #v6: Uint32Array;
  readonly #v6Count: number;

  constructor(v4: Array<[number, number]>, v6: Range6[]) {
    v4.sort((a, b) => a[0] - b[0]);
    const merged4: Array<[number, number]> = [];
    for (const range of v4) {
      const last = merged4[merged4.length - 1];
      if (last && range[0] <= last[1] + 1) last[1] = Math.max(last[1], range[1]);
      else merged4.push([range[0], range[1]]);
    }
    this.#v4Starts = Float64Array.from(merged4, (r) => r[0]);
    this.#v4Ends = Float64Array.from(merged4, (r) => r[1]);

    v6.sort((a, b) => compare6(a.start, 0, b.start, 0));
    const merged6: Range6[] = [];
    for (const range of v6) {
      const last = merged6[merged6.length - 1];
      const maxed = last !== undefined && last.end.every((w) => w === 0xffffffff);
      if (last && (maxed || compare6(range.start, 0, increment6(last.end), 0) <= 0)) {
        if (compare6(range.end, 0, last.end, 0) > 0) last.end = range.end;
      } else {
        merged6.push({ start: range.start, end: range.end });
      }
    }
    this.#v6 = new Uint32Array(merged6.length * 8);
    merged6.forEach((r, i) => {
      this.#v6.set(r.start, i * 8);
      this.#v6.set(r.end, i * 8 + 4);
    });
    this.#v6Count = merged6.length;
  }

  /** True when the address in `words` (as filled by {@link AddressParser}) falls in a range. */
  matches(family: IpFamily, words: ArrayLike<number>): boolean {
    if (family === 4) {
      const ip = words[3]!;
      const starts = this.#v4Starts;
      let lo = 0;
      let hi = starts.length - 1;
      let found = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        if (starts[mid]! <= ip) {
          found = mid;
          lo = mid + 1;
        } else {
          hi = mid - 1;
        }
      }
      return found !== -1 && ip <= this.#v4Ends[found]!;
    }
    if (family === 6) {
      const ranges = this.#v6;
      let lo = 0;
      let hi = this.#v6Count - 1;
      let found = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        if (compare6(ranges, mid * 8, words, 0) <= 0) {
          found = mid;
          lo = mid + 1;
        } else {
          hi = mid - 1;
        }
      }
      return found !== -1 && compare6(words, 0, ranges, found * 8 + 4) <= 0;
    }
    return false;
  }

  /** True when no address can match. */
  get empty(): boolean {
    return this.#v4Starts.length === 0 && this.#v6Count === 0;
  }
}

function maskWord(prefix: number, wordIndex: number): number {
  const bits = Math.min(32, Math.max(0, prefix - wordIndex * 32));
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

function v4MaskToPrefix(mask: string, parser: AddressParser): number {
  if (parser.parse(mask) !== 4 || mask.includes(':')) return -1;
  const value = parser.words[3]!;
  const inverted = ~value >>> 0;
  // A netmask is contiguous ones: its inverse plus one is a power of two.
  if ((inverted & (inverted + 1)) !== 0) return -1;
  return 32 - Math.log2(inverted + 1);
}

const PORT_IN_ENTRY = /^\d{1,3}(?:\.\d{1,3}){3}:|\]:/;

function compileEntry(entry: string, name: string, parser: AddressParser, v4: Array<[number, number]>, v6: Range6[]): void {
  const text = entry.trim();
  const preset = TRUSTED_PROXY_PRESETS[text.toLowerCase() as TrustedProxyPreset];
  if (preset !== undefined && Object.hasOwn(TRUSTED_PROXY_PRESETS, text.toLowerCase())) {
    for (const cidr of preset) compileEntry(cidr, name, parser, v4, v6);
    return;
  }
  const slash = text.indexOf('/');
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const family = PORT_IN_ENTRY.test(addressText) ? 0 : parser.parse(addressText);
  if (family === 0) {
    throw new TypeError(
      `${SCOPE}: option "${name}" must be an IP address, a CIDR or one of ${Object.keys(TRUSTED_PROXY_PRESETS).join(', ')} (got ${describeValue(entry)})`,
    );
  }
  const writtenAsV6 = addressText.includes(':');
  const maxPrefix = writtenAsV6 ? 128 : 32;
  let prefix = maxPrefix;
  if (slash !== -1) {
    const prefixText = text.slice(slash + 1).trim();
    prefix = !writtenAsV6 && prefixText.includes('.') ? v4MaskToPrefix(prefixText, new AddressParser()) : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : -1;
    if (!(prefix >= 0 && prefix <= maxPrefix)) {
      throw new RangeError(`${SCOPE}: option "${name}" has an invalid prefix length or netmask, expected 0-${maxPrefix} (got ${describeValue(entry)})`);
    }
  }
  const words = parser.words;
  if (family === 4 && (!writtenAsV6 || prefix >= 96)) {
    const v4Prefix = writtenAsV6 ? prefix - 96 : prefix;
    const mask = maskWord(v4Prefix, 0);
    const start = (words[3]! & mask) >>> 0;
    v4.push([start, (start | ~mask) >>> 0]);
    return;
  }
  const start = new Uint32Array(4);
  const end = new Uint32Array(4);
  for (let i = 0; i < 4; i++) {
    const mask = maskWord(prefix, i);
    start[i] = (words[i]! & mask) >>> 0;
    end[i] = (words[i]! | ~mask) >>> 0;
  }
  v6.push({ start, end });
  // Addresses inside ::ffff:0:0/96 arrive normalised to IPv4; a wider IPv6 range covering that block trusts them too.
  const mappedStart = Uint32Array.of(0, 0, 0xffff, 0);
  const mappedEnd = Uint32Array.of(0, 0, 0xffff, 0xffffffff);
  if (compare6(start, 0, mappedStart, 0) <= 0 && compare6(end, 0, mappedEnd, 0) >= 0) v4.push([0, 0xffffffff]);
}

/** Compiles a trusted proxy list into a matcher; throws `TypeError`/`RangeError` naming the bad entry. */
export function compileTrustedProxies(list: string | readonly string[], name = 'trustedProxies'): AddressMatcher {
  const parser = new AddressParser();
  const v4: Array<[number, number]> = [];
  const v6: Range6[] = [];
  if (typeof list === 'string') {
    list.split(',').forEach((entry, i) => {
      if (entry.trim() !== '') compileEntry(entry, list.includes(',') ? `${name}[${i}]` : name, parser, v4, v6);
    });
  } else if (Array.isArray(list)) {
    list.forEach((entry: unknown, i) => {
      if (typeof entry !== 'string') {
        throw new TypeError(`${SCOPE}: option "${name}[${i}]" must be a string (got ${describeValue(entry)})`);
      }
      compileEntry(entry, `${name}[${i}]`, parser, v4, v6);
    });
  } else {
    throw new TypeError(`${SCOPE}: option "${name}" must be a function, a string or an array of strings (got ${describeValue(list)})`);
  }
  return new AddressMatcher(v4, v6);
}

/**
 * Compiles the peers whose forwarding headers are believed into a fast predicate. Entries are IPv4
 * or IPv6 addresses, CIDRs (`10.0.0.0/8`, `2001:db8::/32`, `10.0.0.0/255.0.0.0`) and the presets
 * `loopback`, `private`, `linklocal` and `uniquelocal`. CIDRs are parsed once; each call parses the
 * address without allocating and binary-searches merged ranges. IPv4-mapped IPv6 addresses match
 * IPv4 entries. A function is returned as it is.
 *
 * @example
 * const trusted = createTrustedProxies(['loopback', '10.0.0.0/8']);
 * trusted('::ffff:10.1.2.3'); // true
 */
export function createTrustedProxies(list: TrustedProxies): TrustedProxyPredicate {
  if (typeof list === 'function') return list;
  const matcher = compileTrustedProxies(list);
  const parser = new AddressParser();
  const predicate: TrustedProxyPredicate = (ip: string): boolean => {
    if (typeof ip !== 'string') return false;
    const family = parser.parse(ip);
    return family !== 0 && matcher.matches(family, parser.words);
  };
  Object.defineProperty(predicate, kMatcher, { value: matcher });
  return predicate;
}

/** The compiled matcher behind a predicate made by {@link createTrustedProxies}, for callers that already parsed the address. */
export function matcherOf(predicate: TrustedProxyPredicate): AddressMatcher | undefined {
  return (predicate as { [kMatcher]?: AddressMatcher })[kMatcher];
}
