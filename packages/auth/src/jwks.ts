import { createPublicKey } from 'node:crypto';
import {
  type Clock,
  type ClockTimer,
  type Disposable,
  TypedEmitter,
  checkOptionsObject,
  describeValue,
  optionalBoolean,
  optionalFunction,
  optionalNumber,
  systemClock,
} from '@edgekit/core';
import { type FlattenedJWSInput, type JSONWebKeySet, type JWK, type JWSHeaderParameters, type LocalJWKSet, createLocalJWKSet } from 'jose';
import { algorithmsForKey } from './algorithms.js';
import { AuthError } from './errors.js';

const SCOPE = '@edgekit/auth';

/** A `fetch` implementation: the global one (undici) by default. */
export type FetchLike = (input: string, init: { signal: AbortSignal; headers: Record<string, string>; redirect: 'follow' | 'error' }) => Promise<Response>;

/** Options for {@link createJwksCache}. */
export interface JwksCacheOptions {
  /** The JWK Set URL, e.g. `https://issuer.example/.well-known/jwks.json`. Required. */
  url: string | URL;
  /** How long a fetched set is used before it is refreshed in the background, in ms. Default: 600000 (10 min). */
  cacheMaxAge?: number;
  /**
   * Least time between two fetches caused by an unknown `kid` or a failure, in ms: a flood of tokens
   * with random `kid`s causes at most one fetch per window. Default: 30000.
   */
  cooldown?: number;
  /** Time allowed for one fetch (connect, headers and body), in ms. Default: 5000. */
  timeout?: number;
  /** Largest accepted response body, in bytes. Default: 524288 (512 KiB). */
  maxBytes?: number;
  /** Extra request headers. Default: none. */
  headers?: Record<string, string>;
  /** Accept an `http:` URL to a non-loopback host (keys fetched in clear text can be swapped in transit). Default: false. */
  allowHttp?: boolean;
  /** Fetch the set at construction instead of on the first token. Default: true. */
  prefetch?: boolean;
  /** `fetch` implementation (undici's `fetch` fits). Default: `globalThis.fetch`. */
  fetch?: FetchLike;
  /** Time source for ages, cooldowns, timeouts and the refresh timer. Default: the system clock. */
  clock?: Clock;
}

/** Defaults of {@link JwksCacheOptions}. */
export const JWKS_DEFAULTS = {
  cacheMaxAge: 600_000,
  cooldown: 30_000,
  timeout: 5_000,
  maxBytes: 524_288,
  allowHttp: false,
  prefetch: true,
} as const;

/** Why a fetch of the key set started. */
export type JwksFetchReason = 'initial' | 'scheduled' | 'stale' | 'unknown-kid' | 'manual';

/** Events of a {@link JwksCache}. */
export type JwksEvents = {
  /** A fetch succeeded and its keys are now in use. */
  refresh: [event: { reason: JwksFetchReason; kids: readonly (string | undefined)[]; at: number }];
  /** A fetch failed; the last good keys (if any) stay in use. */
  error: [event: { reason: JwksFetchReason; error: Error; at: number; servingLastGood: boolean }];
};

/** Counters and state of a {@link JwksCache}, for health pages and tests. */
export interface JwksSnapshot {
  url: string;
  /** `kid`s of the keys in use (undefined for keys without one). */
  kids: (string | undefined)[];
  /** Clock reading of the last successful fetch, or undefined. */
  fetchedAt: number | undefined;
  /** Clock reading of the last fetch attempt, or undefined. */
  lastAttemptAt: number | undefined;
  fetches: number;
  failures: number;
}

/** A JWK Set fetched from a URL and kept fresh in the background, with a jose-compatible key resolver. */
export interface JwksCache {
  readonly url: string;
  /**
   * Resolves the verification key for a JWS header (a jose `JWTVerifyGetKey`). An unknown `kid`
   * triggers at most one refetch per `cooldown`; rejects with jose's `JWKSNoMatchingKey` when no key
   * matches, or an `AuthError` `EAUTHUNAVAILABLE` when no key set was ever fetched.
   */
  getKey(header?: JWSHeaderParameters, token?: FlattenedJWSInput): ReturnType<LocalJWKSet>;
  /** Fetches now (joining a fetch in progress); resolves true when the new set is in use. */
  refresh(): Promise<boolean>;
  /** Resolves once a key set is available, fetching it if needed; rejects with `EAUTHUNAVAILABLE` otherwise. */
  ready(): Promise<void>;
  /** The key set in use (public keys only), or undefined. */
  jwks(): JSONWebKeySet | undefined;
  snapshot(): JwksSnapshot;
  on<K extends keyof JwksEvents>(event: K, listener: (...args: JwksEvents[K]) => void): Disposable;
  /** Stops the refresh timer and aborts a fetch in progress. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'] as const;

function checkUrl(value: unknown, allowHttp: boolean): URL {
  let url: URL;
  try {
    url = new URL(value instanceof URL ? value.href : (value as string));
  } catch {
    throw new TypeError(`${SCOPE}: option "jwks.url" must be an absolute URL (got ${describeValue(value instanceof URL ? value.href : value)})`);
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && (allowHttp || LOOPBACK_HOSTS.has(url.hostname) || url.hostname.startsWith('127.'))) return url;
  throw new TypeError(
    `${SCOPE}: option "jwks.url" must use https: (got ${describeValue(url.href)}); keys fetched over http can be swapped in transit. Set "jwks.allowHttp" to accept it`,
  );
}

/**
 * Keeps the members of a fetched set that can verify one of our algorithms: public signature keys
 * that parse. A key with private parts, an encryption key or an unparseable key is dropped, so one
 * bad member does not poison the set.
 */
function usableKeys(body: unknown): JSONWebKeySet {
  if (typeof body !== 'object' || body === null || !Array.isArray((body as JSONWebKeySet).keys)) {
    throw new TypeError('the JWK Set is not an object with a "keys" array');
  }
  const keys: JWK[] = [];
  for (const candidate of (body as JSONWebKeySet).keys as unknown[]) {
    if (typeof candidate !== 'object' || candidate === null || Array.isArray(candidate)) continue;
    const jwk = candidate as JWK;
    if (PRIVATE_MEMBERS.some((member) => member in jwk)) continue;
    if (jwk.use !== undefined && jwk.use !== 'sig') continue;
    if (algorithmsForKey(jwk).length === 0) continue;
    try {
      createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
    } catch {
      continue;
    }
    keys.push(jwk);
  }
  if (keys.length === 0) throw new TypeError('the JWK Set holds no usable public signature key');
  return { keys };
}

async function readBody(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (declared > maxBytes) {
    await response.body?.cancel().catch(() => {});
    throw new RangeError(`the JWK Set response declares ${declared} bytes, more than maxBytes (${maxBytes})`);
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new RangeError(`the JWK Set response is larger than maxBytes (${maxBytes})`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total).toString('utf8');
}

/**
 * Creates a {@link JwksCache}: the set is fetched (at construction unless `prefetch: false`),
 * refreshed every `cacheMaxAge` in the background, refetched on an unknown `kid` at most once per
 * `cooldown`, and a failed or garbage fetch keeps the last good keys in use.
 */
export function createJwksCache(options: JwksCacheOptions): JwksCache {
  const opts = checkOptionsObject<JwksCacheOptions>(`${SCOPE} jwks`, options);
  const allowHttp = optionalBoolean(SCOPE, 'jwks.allowHttp', opts.allowHttp, JWKS_DEFAULTS.allowHttp);
  if (opts.url === undefined) throw new TypeError(`${SCOPE}: option "jwks.url" is required`);
  const url = checkUrl(opts.url, allowHttp).href;
  const cacheMaxAge = optionalNumber(SCOPE, 'jwks.cacheMaxAge', opts.cacheMaxAge, JWKS_DEFAULTS.cacheMaxAge, { min: 1_000 });
  const cooldown = optionalNumber(SCOPE, 'jwks.cooldown', opts.cooldown, JWKS_DEFAULTS.cooldown, { min: 0, max: cacheMaxAge });
  const timeout = optionalNumber(SCOPE, 'jwks.timeout', opts.timeout, JWKS_DEFAULTS.timeout, { min: 1 });
  const maxBytes = optionalNumber(SCOPE, 'jwks.maxBytes', opts.maxBytes, JWKS_DEFAULTS.maxBytes, { min: 64, integer: true });
  const prefetch = optionalBoolean(SCOPE, 'jwks.prefetch', opts.prefetch, JWKS_DEFAULTS.prefetch);
  const fetchImpl = optionalFunction<FetchLike, FetchLike>(SCOPE, 'jwks.fetch', opts.fetch, (input, init) => globalThis.fetch(input, init));
  if (opts.headers !== undefined && (typeof opts.headers !== 'object' || opts.headers === null)) {
    throw new TypeError(`${SCOPE}: option "jwks.headers" must be an object of header values (got ${describeValue(opts.headers)})`);
  }
  const headers: Record<string, string> = { accept: 'application/jwk-set+json, application/json', ...opts.headers };
  const clock = opts.clock ?? systemClock;
  const events = new TypedEmitter<JwksEvents>();

  let resolver: LocalJWKSet | undefined;
  let current: JSONWebKeySet | undefined;
  let fetchedAt: number | undefined;
  let lastAttemptAt: number | undefined;
  let pending: Promise<boolean> | undefined;
  let inflight: AbortController | undefined;
  let refreshTimer: ClockTimer | undefined;
  let fetches = 0;
  let failures = 0;
  let closed = false;

  const schedule = (ms: number): void => {
    clock.clearTimeout(refreshTimer);
    if (closed) return;
    refreshTimer = clock.setTimeout(() => {
      refreshTimer = undefined;
      void fetchNow('scheduled');
    }, ms);
  };

  const load = async (reason: JwksFetchReason): Promise<boolean> => {
    const controller = new AbortController();
    inflight = controller;
    const timer = clock.setTimeout(() => controller.abort(new Error(`the JWK Set fetch timed out after ${timeout} ms`)), timeout);
    try {
      const response = await fetchImpl(url, { signal: controller.signal, headers, redirect: 'follow' });
      if (response.status !== 200) {
        await response.body?.cancel().catch(() => {});
        throw new Error(`the JWK Set URL answered HTTP ${response.status}`);
      }
      const text = await readBody(response, maxBytes);
      const set = usableKeys(JSON.parse(text));
      const nextResolver = createLocalJWKSet(set);
      if (closed) return false;
      resolver = nextResolver;
      current = set;
      fetchedAt = clock.now();
      schedule(cacheMaxAge);
      if (events.hasListeners('refresh')) events.emit('refresh', { reason, kids: set.keys.map((k) => k.kid), at: fetchedAt });
      return true;
    } catch (cause) {
      failures++;
      if (closed) return false;
      // Retry sooner than a normal refresh, but never faster than the cooldown.
      schedule(Math.max(cooldown, 1_000));
      const error = controller.signal.aborted && controller.signal.reason instanceof Error ? controller.signal.reason : cause instanceof Error ? cause : new Error(String(cause));
      if (events.hasListeners('error')) events.emit('error', { reason, error, at: clock.now(), servingLastGood: resolver !== undefined });
      return false;
    } finally {
      clock.clearTimeout(timer);
      if (inflight === controller) inflight = undefined;
    }
  };

  const fetchNow = (reason: JwksFetchReason): Promise<boolean> => {
    if (pending) return pending;
    if (closed) return Promise.resolve(false);
    lastAttemptAt = clock.now();
    fetches++;
    pending = load(reason).finally(() => {
      pending = undefined;
    });
    return pending;
  };

  /** True when the cooldown allows a new fetch now (or one is already running, which we may join). */
  const mayFetch = (): boolean => pending !== undefined || lastAttemptAt === undefined || clock.now() - lastAttemptAt >= cooldown;

  const unavailable = (): AuthError => new AuthError('EAUTHUNAVAILABLE', `no JWK Set could be fetched from ${url}`, { scheme: 'jwt' });

  const ensureLoaded = async (): Promise<LocalJWKSet> => {
    if (resolver) return resolver;
    if (closed || !mayFetch()) throw unavailable();
    await fetchNow('initial');
    if (!resolver) throw unavailable();
    return resolver;
  };

  const cache: JwksCache = {
    url,
    async getKey(header, token) {
      const set = resolver ?? (await ensureLoaded());
      if (fetchedAt !== undefined && clock.now() - fetchedAt >= cacheMaxAge && mayFetch()) void fetchNow('stale');
      try {
        return await set(header, token);
      } catch (error) {
        if ((error as { code?: unknown }).code !== 'ERR_JWKS_NO_MATCHING_KEY' || !mayFetch()) throw error;
        await fetchNow('unknown-kid');
        // A failed refetch keeps the old set: the token's key is still unknown.
        return (resolver ?? set)(header, token);
      }
    },
    refresh: () => fetchNow('manual'),
    async ready() {
      await ensureLoaded();
    },
    jwks: () => (current ? structuredClone(current) : undefined),
    snapshot: () => ({ url, kids: current ? current.keys.map((k) => k.kid) : [], fetchedAt, lastAttemptAt, fetches, failures }),
    on: (event, listener) => events.on(event, listener),
    async close() {
      if (closed) return;
      closed = true;
      clock.clearTimeout(refreshTimer);
      inflight?.abort(new Error('the JWK Set cache was closed'));
      events.removeAllListeners();
    },
    [Symbol.asyncDispose]() {
      return cache.close();
    },
  };
  if (prefetch) void fetchNow('initial');
  return cache;
}
