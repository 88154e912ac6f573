import type { Bus } from '@edgekit/bus';
import type { Clock, Disposable } from '@edgekit/core';
import type { ApiKeyAuthInfo, ApiKeyPrincipal, AuthEvents, AuthRequest, Authenticator } from './types.js';

/** What `validate` receives besides the key. */
export interface ApiKeyValidateContext {
  /** Aborted when `validateTimeout` elapses or the authenticator closes. */
  signal: AbortSignal;
  /** A short prefix of the key's SHA-256, safe to log. */
  keyId: string;
}

/** Asks the origin (an identity service, a database) about a key: a principal when valid, `null`/`undefined`/`false` when not; throw when the origin cannot answer. */
export type ApiKeyValidator<P extends ApiKeyPrincipal = ApiKeyPrincipal> = (
  key: string,
  context: ApiKeyValidateContext,
) => Promise<P | null | undefined | false> | P | null | undefined | false;

/** Options for {@link createApiKeyAuth}. */
export interface ApiKeyAuthOptions<P extends ApiKeyPrincipal = ApiKeyPrincipal> {
  /** The origin check. Required. */
  validate: ApiKeyValidator<P>;
  /**
   * Broadcast between gateway nodes for revocations and invalidations. Without it, `revoke` only
   * reaches this node. While the bus reports a gap, nothing is served from the cache.
   */
  bus?: Bus;
  /** Bus channel. Default: `auth:revoke`. */
  channel?: string;
  /** Request header that carries the key (lower case). Default: `x-api-key`. */
  header?: string;
  /** How old a cached "valid" answer may be, in ms, unless `ttlFor` says otherwise. Default: 60000. */
  ttl?: number;
  /**
   * Per-route freshness, in ms: short for security-critical routes, longer for read-only ones;
   * `undefined` means `ttl`, `0` means always ask the origin. Values above `maxTtl` are capped.
   * Default: none (every route uses `ttl`).
   */
  ttlFor?: (req: AuthRequest) => number | undefined;
  /** Longest any answer is kept, in ms. Default: 300000. */
  maxTtl?: number;
  /** How long an "invalid" answer is cached, in ms (0: never). Default: 5000. */
  negativeTtl?: number;
  /** How long a revoked key is refused on this node without asking the origin, in ms (0: only drop the cache). Default: 300000. */
  revokedTtl?: number;
  /** Serve a cached "valid" answer up to this much past its TTL when the origin fails, in ms. Default: 0 (never). */
  staleIfError?: number;
  /** Time allowed for one `validate` call, in ms. Default: 2000. */
  validateTimeout?: number;
  /** Most "valid" answers kept (LRU). Default: 10000. */
  max?: number;
  /** Most "invalid" answers kept (LRU, separate so random keys cannot evict valid ones). Default: 10000. */
  negativeMax?: number;
  /** Keys shorter than this are refused without asking the origin. Default: 8. */
  minKeyLength?: number;
  /** Keys longer than this are refused without asking the origin. Default: 256. */
  maxKeyLength?: number;
  /** Realm of the `WWW-Authenticate` challenge. Default: `api`. */
  realm?: string;
  /** Time source for ages and timeouts. Default: the system clock. */
  clock?: Clock;
}

/** Defaults of {@link ApiKeyAuthOptions}. */
export const API_KEY_DEFAULTS = {
  channel: 'auth:revoke',
  header: 'x-api-key',
  ttl: 60_000,
  maxTtl: 300_000,
  negativeTtl: 5_000,
  revokedTtl: 300_000,
  staleIfError: 0,
  validateTimeout: 2_000,
  max: 10_000,
  negativeMax: 10_000,
  minKeyLength: 8,
  maxKeyLength: 256,
  realm: 'api',
} as const;

/** A revocation or invalidation that reached this node. */
export interface KeyChangeEvent {
  /** A short prefix of the key's SHA-256. */
  keyId: string;
  /** The full SHA-256 (hex) of the key. */
  keyHash: string;
  /** `nodeId` of the bus that published it (this node's own id for local calls; `local` without a bus). */
  origin: string;
  /** Publisher's clock reading when it was sent. */
  sentAt: number;
  /** This node's clock reading when it was applied. */
  receivedAt: number;
}

/** Events of an {@link ApiKeyAuthenticator}. */
export type ApiKeyEvents = AuthEvents & {
  /** A key was revoked on this node. */
  revoked: [event: KeyChangeEvent];
  /** A key's cached answer was dropped on this node. */
  invalidated: [event: KeyChangeEvent];
  /** The whole cache was dropped: a bus gap, or `invalidateAll()` somewhere. */
  flushed: [event: { reason: 'disconnected' | 'reconnected' | 'invalidateAll'; at: number }];
  /** `validate` threw or timed out. */
  originError: [event: { keyId: string; error: Error }];
};

/** Counters of an {@link ApiKeyAuthenticator}. */
export interface ApiKeyStats {
  /** Answers served from the "valid" cache. */
  hits: number;
  /** Refusals served from the "invalid" cache. */
  negativeHits: number;
  /** Checks that needed the origin (including those that joined a call in flight). */
  misses: number;
  /** Calls made to `validate`. */
  originCalls: number;
  originErrors: number;
  /** Revocations applied on this node. */
  revocations: number;
  entries: number;
  negativeEntries: number;
  revokedEntries: number;
  /** False while the bus reports a gap: the cache is bypassed. */
  trusted: boolean;
}

/** Validates API keys against an origin, caches answers per route freshness, and spreads revocations over a bus. */
export interface ApiKeyAuthenticator<P extends ApiKeyPrincipal = ApiKeyPrincipal> extends Authenticator<ApiKeyAuthInfo<P>> {
  /** Checks a key: from the cache when an answer younger than `maxAge` (default `ttl`) exists, else from the origin. */
  check(key: string, options?: { maxAge?: number }): Promise<ApiKeyAuthInfo<P>>;
  /** Revokes a key on every node (refused for `revokedTtl` without asking the origin). Rejects when the bus publish fails; this node is revoked anyway. */
  revoke(key: string): Promise<void>;
  /** Like {@link ApiKeyAuthenticator.revoke}, with the key's SHA-256 (hex), as an identity service that stores only hashes has it. */
  revokeHash(keyHash: string): Promise<void>;
  /** Drops the cached answer for a key on every node, so the next request asks the origin (e.g. after a scope change). */
  invalidate(key: string): Promise<void>;
  /** Drops every cached answer on every node. */
  invalidateAll(): Promise<void>;
  stats(): ApiKeyStats;
  on<K extends keyof ApiKeyEvents>(event: K, listener: (...args: ApiKeyEvents[K]) => void): Disposable;
}
