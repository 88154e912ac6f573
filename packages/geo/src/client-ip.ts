import { checkOptionsObject, optionalNumber, optionalOneOf } from '@edgekit/core';
import { collectForwardedFor } from './forwarded.js';
import { AddressParser, type IpFamily } from './ip.js';
import { type AddressMatcher, type TrustedProxies, type TrustedProxyPredicate, createTrustedProxies, matcherOf } from './trusted-proxies.js';

const SCOPE = '@edgekit/geo';

/**
 * Which forwarding header carries the chain of addresses.
 * - `'prefer-x-forwarded-for'`: `X-Forwarded-For` when present, else `Forwarded`.
 * - `'prefer-forwarded'`: `Forwarded` when present, else `X-Forwarded-For`.
 * - `'x-forwarded-for'` / `'forwarded'`: only that header; the other is ignored.
 *
 * Only the header your trusted proxies write can be believed: a client can send the other one
 * with any content. Pin the mode to the header your proxies append to.
 */
export type ForwardedHeaderMode = 'prefer-x-forwarded-for' | 'prefer-forwarded' | 'x-forwarded-for' | 'forwarded';

const HEADER_MODES: readonly ForwardedHeaderMode[] = ['prefer-x-forwarded-for', 'prefer-forwarded', 'x-forwarded-for', 'forwarded'];

/** The part of a request `clientIp` reads: Node's `IncomingMessage` fits, so do Express and Fastify's raw requests. */
export interface RequestLike {
  /** Lower-case header names, as Node provides them; repeated headers may be arrays. */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  readonly socket?: { readonly remoteAddress?: string | undefined } | null | undefined;
}

/** Options of {@link clientIp} and {@link createClientIp}. */
export interface ClientIpOptions {
  /**
   * Peers whose forwarding headers are believed. Default: none, so the socket address is the
   * answer and headers are ignored. Pass a predicate from {@link createTrustedProxies} on hot
   * paths; a list is compiled on every {@link clientIp} call (once with {@link createClientIp}).
   */
  trustedProxies?: TrustedProxies;
  /** Which header carries the chain. Default: `'prefer-x-forwarded-for'`. */
  header?: ForwardedHeaderMode;
  /** Most header entries walked; past it the last trustworthy address is the answer. Default: 32. */
  maxHops?: number;
}

/** Defaults of {@link ClientIpOptions}. */
export const CLIENT_IP_DEFAULTS = Object.freeze({
  trustedProxies: Object.freeze([]) as readonly string[],
  header: 'prefer-x-forwarded-for' as ForwardedHeaderMode,
  maxHops: 32,
  /** A `Forwarded` value longer than this is not parsed (Node itself caps all headers at 16 KiB). */
  maxForwardedLength: 65_536,
});

function present(value: string | readonly string[] | undefined): value is string | readonly string[] {
  if (value === undefined) return false;
  if (typeof value === 'string') return value.length > 0;
  return Array.isArray(value) && value.length > 0;
}

/**
 * Walks a forwarding chain from the right. One instance per compiled configuration; the scratch
 * state is reset on every call.
 */
export class ClientIpResolver {
  /** Whether the socket peer of the last resolved request is a trusted proxy (so its headers may be believed). */
  peerTrusted = false;
  readonly #parser = new AddressParser();
  readonly #forValues: string[] = [];
  readonly #trusted: TrustedProxyPredicate;
  readonly #matcher: AddressMatcher | undefined;
  readonly #mode: ForwardedHeaderMode;
  readonly #maxHops: number;
  // Walk state: where the last trustworthy address is, and how many entries were read.
  #lastText = '';
  #lastStart = 0;
  #lastEnd = 0;
  #hops = 0;

  constructor(trusted: TrustedProxyPredicate, mode: ForwardedHeaderMode, maxHops: number) {
    this.#trusted = trusted;
    this.#matcher = matcherOf(trusted);
    this.#mode = mode;
    this.#maxHops = maxHops;
  }

  #trusts(text: string, family: IpFamily): boolean {
    if (this.#matcher !== undefined) return this.#matcher.matches(family, this.#parser.words);
    try {
      return this.#trusted(this.#parser.format(text, family)) === true;
    } catch {
      return false;
    }
  }

  #last(): string {
    const text = this.#lastText;
    const parser = this.#parser;
    const family = parser.parse(text, this.#lastStart, this.#lastEnd);
    return family === 0 ? '' : parser.format(text, family);
  }

  /**
   * Handles one chain entry `text[start, end)`. Returns `undefined` to keep walking, or the final
   * answer: the entry itself when it is not a trusted proxy, or the last trustworthy address when
   * the entry cannot be believed (garbage, `unknown`, obfuscated, too many hops).
   */
  #step(text: string, start: number, end: number): string | undefined {
    if (++this.#hops > this.#maxHops) return this.#last();
    const parser = this.#parser;
    const family = parser.parse(text, start, end);
    if (family === 0) return this.#last();
    if (!this.#trusts(text, family)) return parser.format(text, family);
    this.#lastText = text;
    this.#lastStart = start;
    this.#lastEnd = end;
    return undefined;
  }

  #walkList(line: string): string | undefined {
    let end = line.length;
    while (end > 0) {
      const comma = line.lastIndexOf(',', end - 1);
      let start = comma + 1;
      let stop = end;
      while (start < stop && (line.charCodeAt(start) === 32 || line.charCodeAt(start) === 9)) start++;
      while (stop > start && (line.charCodeAt(stop - 1) === 32 || line.charCodeAt(stop - 1) === 9)) stop--;
      // RFC 9110 §5.6.1: empty list elements are ignored.
      if (stop > start) {
        const answer = this.#step(line, start, stop);
        if (answer !== undefined) return answer;
      }
      if (comma === -1) break;
      end = comma;
    }
    return undefined;
  }

  #walkForwarded(header: string | readonly string[]): string | undefined {
    const values = this.#forValues;
    values.length = 0;
    let total = 0;
    const lines = typeof header === 'string' ? [header] : header;
    for (const line of lines) {
      if (typeof line !== 'string') return this.#last();
      total += line.length;
      if (total > CLIENT_IP_DEFAULTS.maxForwardedLength) return this.#last();
      collectForwardedFor(line, values);
    }
    for (let i = values.length - 1; i >= 0; i--) {
      const node = values[i]!;
      const answer = this.#step(node, 0, node.length);
      if (answer !== undefined) return answer;
    }
    return undefined;
  }

  resolve(req: RequestLike): string {
    this.peerTrusted = false;
    const remote = req?.socket?.remoteAddress;
    if (typeof remote !== 'string') return '';
    const parser = this.#parser;
    const family = parser.parse(remote);
    if (family === 0) return '';
    // An untrusted peer's headers are the client's own words: ignore them entirely.
    if (!this.#trusts(remote, family)) return parser.format(remote, family);
    this.peerTrusted = true;
    this.#lastText = remote;
    this.#lastStart = 0;
    this.#lastEnd = remote.length;
    this.#hops = 0;
    const headers = req.headers;
    if (headers === null || typeof headers !== 'object') return this.#last();
    const xff = headers['x-forwarded-for'];
    const forwarded = headers.forwarded;
    let useForwarded: boolean;
    switch (this.#mode) {
      case 'x-forwarded-for':
        useForwarded = false;
        break;
      case 'forwarded':
        useForwarded = true;
        break;
      case 'prefer-forwarded':
        useForwarded = present(forwarded) || !present(xff);
        break;
      default:
        useForwarded = !present(xff) && present(forwarded);
    }
    const chain = useForwarded ? forwarded : xff;
    if (!present(chain)) return this.#last();
    let answer: string | undefined;
    if (useForwarded) {
      answer = this.#walkForwarded(chain);
    } else if (typeof chain === 'string') {
      answer = this.#walkList(chain);
    } else {
      for (let i = chain.length - 1; i >= 0 && answer === undefined; i--) {
        const line = chain[i];
        if (typeof line !== 'string') return this.#last();
        answer = this.#walkList(line);
      }
    }
    // Every entry was a trusted proxy: the leftmost one is the client as far as anyone can tell.
    return answer ?? this.#last();
  }
}

/** Validates {@link ClientIpOptions} and compiles them into a reusable resolver. */
export function compileClientIp(options: ClientIpOptions | undefined): ClientIpResolver {
  const opts = checkOptionsObject<ClientIpOptions>(SCOPE, options);
  const trusted = createTrustedProxies(opts.trustedProxies ?? CLIENT_IP_DEFAULTS.trustedProxies);
  const mode = optionalOneOf(SCOPE, 'header', opts.header, HEADER_MODES, CLIENT_IP_DEFAULTS.header);
  const maxHops = optionalNumber(SCOPE, 'maxHops', opts.maxHops, CLIENT_IP_DEFAULTS.maxHops, { min: 1, integer: true });
  return new ClientIpResolver(trusted, mode, maxHops);
}

/**
 * Compiles {@link ClientIpOptions} once and returns a function that extracts the client address
 * from a request: the hot-path form of {@link clientIp}.
 *
 * @example
 * const ipOf = createClientIp({ trustedProxies: createTrustedProxies(['loopback', '10.0.0.0/8']) });
 * http.createServer((req, res) => res.end(ipOf(req)));
 */
export function createClientIp(options?: ClientIpOptions): (req: RequestLike) => string {
  const resolver = compileClientIp(options);
  return (req) => resolver.resolve(req);
}

/**
 * The client's address: the socket peer, or, when the peer is a trusted proxy, the first address
 * in the forwarding chain (read right to left) that is not a trusted proxy. Headers from an
 * untrusted peer are ignored, so a client cannot choose its own address. Entries that cannot be
 * believed (`unknown`, RFC 7239 obfuscated identifiers, garbage) stop the walk at the last
 * trustworthy address. Returns a normalised address (see `normalizeIp`), or `''` when the socket
 * has no address. Never throws for any header content.
 */
export function clientIp(req: RequestLike, options?: ClientIpOptions): string {
  return compileClientIp(options).resolve(req);
}
