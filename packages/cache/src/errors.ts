import { EdgekitError, brandError } from '@edgekit/core';

/** Codes of {@link CacheError}. */
export type CacheErrorCode =
  /** A store operation failed (the Redis error is the `cause`). */
  | 'ECACHESTORE'
  /** A store operation did not answer within `operationTimeout`. */
  | 'ETIMEDOUT'
  /** A response body exceeded `maxBodySize` while being buffered for storage. */
  | 'EBODYTOOLARGE'
  /** A purge request was malformed. */
  | 'EBADPURGE'
  /**
   * An invalidation could not reach the shared store or the bus: it was applied on this node and
   * is retried until it reaches them.
   */
  | 'EQUEUED'
  /**
   * The origin answered 5xx while a response was fetched for storage; the client gets the origin's
   * answer or a stale one, and a warm-up's `ECACHESTORE` carries this as its `cause`.
   */
  | 'EORIGINSTATUS';

/** An error raised or reported by `@edgekit/cache`; store errors are reported on the `error` event, never thrown at clients. */
export class CacheError extends EdgekitError {
  declare readonly code: CacheErrorCode;
  /** The store operation (`get`, `set`, `delete`, `scan`, `generation`, ...) when the error comes from a store. */
  readonly operation: string | undefined;
  /** The cache key involved, when there is one. */
  readonly key: string | undefined;

  constructor(code: CacheErrorCode, message: string, context: { operation?: string; key?: string; cause?: unknown } = {}) {
    super(code, message, context.cause === undefined ? undefined : { cause: context.cause });
    this.operation = context.operation;
    this.key = context.key;
  }
}

/** True for a {@link CacheError}, also one thrown by another copy of this package. */
export const isCacheError: (value: unknown) => value is CacheError = brandError(CacheError, 'edgekit.cache.error');
