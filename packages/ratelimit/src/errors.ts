import { EdgekitError, brandError } from '@edgekit/core';

/** Codes of {@link RateLimitError}. */
export type RateLimitErrorCode = 'ETIMEDOUT' | 'EREDIS' | 'EREDISDOWN' | 'EBUS' | 'EBADMESSAGE' | 'ECLOSED';

/**
 * Why a limiter could not reach Redis (reported on its `error` event; decisions never throw it)
 * or why a closed limiter refused a call. `ETIMEDOUT`: a command outlived `commandTimeout`;
 * `EREDIS`: Redis answered with an error; `EREDISDOWN`: the client was not connected, so no command
 * was sent; `EBUS`: counts could not be published to the other regions (they are sent again next
 * round); `EBADMESSAGE`: a message from another region was not a counts message; `ECLOSED`: `limit()` after `close()`.
 */
export class RateLimitError extends EdgekitError {
  declare readonly code: RateLimitErrorCode;
  /** The limiter key involved, when one was (already normalized). */
  readonly key: string | undefined;

  constructor(code: RateLimitErrorCode, message: string, options: { key?: string; cause?: unknown } = {}) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.key = options.key;
  }
}

/** True for a {@link RateLimitError}, also one raised by another copy of this package. */
export const isRateLimitError: (value: unknown) => value is RateLimitError = brandError(RateLimitError, 'edgekit.ratelimit.error');
