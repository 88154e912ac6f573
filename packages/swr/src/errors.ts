import { EdgekitError, brandError } from '@edgekit/core';

/** Stable codes of {@link SwrError}. */
export type SwrErrorCode =
  /** The swr instance was closed. */
  | 'ECLOSED'
  /** A store or lock operation did not answer within `operationTimeout`. */
  | 'ETIMEDOUT'
  /** A store operation failed (the value is fetched from the origin instead). */
  | 'ESTORE'
  /** A lock or notification operation on Redis failed (the process falls back to fetching itself). */
  | 'ELOCK';

/** An error raised or reported by `@edgekit/swr`, with the key and the operation involved. */
export class SwrError extends EdgekitError {
  declare readonly code: SwrErrorCode;
  /** The swr key, when the error concerns one. */
  readonly key: string | undefined;
  /** What was being done: `get`, `set`, `delete`, `acquire`, `release`, `extend`, `notify`, `fetch`. */
  readonly operation: string | undefined;

  constructor(code: SwrErrorCode, message: string, context: { key?: string; operation?: string; cause?: unknown } = {}) {
    super(code, message, context.cause === undefined ? undefined : { cause: context.cause });
    this.key = context.key;
    this.operation = context.operation;
  }
}

/** True for a {@link SwrError}, also one thrown by another copy of this package. */
export const isSwrError: (value: unknown) => value is SwrError = brandError(SwrError, 'edgekit.swr.error');
